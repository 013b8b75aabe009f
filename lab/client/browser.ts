// Everything a page needs, as one plain ES module: import from '/client/browser.js'
// (or '/client/realtime-client.js') as served by the demo backend. Browser-safe modules only.

export {
  type Backoff,
  type BackoffOptions,
  type BackoffStrategy,
  createBackoff,
  seededRandom,
} from './backoff.js';
export { RealtimeError } from './errors.js';
export type { RealtimeMessage, TransportName } from './message.js';
export { type ClientState, RealtimeClient, type RealtimeClientOptions } from './realtime-client.js';
export { type SseEvent, SseParser } from './sse-parser.js';
