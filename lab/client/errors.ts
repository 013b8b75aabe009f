// Coded errors of the realtime client (browser-safe).

export type RealtimeErrorCode =
  | 'ERR_CONNECT_TIMEOUT' // no 101 / first SSE byte / first poll answer within connectTimeoutMs
  | 'ERR_NO_WEBSOCKET' // no WebSocket constructor in this runtime and none injected
  | 'ERR_WS_REFUSED' // the WebSocket closed or errored before opening (e.g. a 426 from a hop)
  | 'ERR_HTTP_STATUS' // SSE, poll or publish answered with a non-2xx status
  | 'ERR_NOT_EVENT_STREAM' // the SSE answer was not text/event-stream (captive portal, error page)
  | 'ERR_STREAM_ENDED' // the SSE stream ended before its first byte
  | 'ERR_NETWORK' // fetch failed
  | 'ERR_GAVE_UP' // every rung failed maxRetries times in a row
  | 'ERR_CLOSED'; // close() was called

export class RealtimeError extends Error {
  readonly code: RealtimeErrorCode;
  constructor(code: RealtimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealtimeError';
    this.code = code;
  }
}
