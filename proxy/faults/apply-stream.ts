/**
 * Applying a fault's action to an SSE stream or a long-poll (proxy/http/stream.ts). The sidecar
 * relays the backend's response toward the client, so every action acts on that direction:
 * close ends the stream, cut resets it, stall/delay/throttle shape its body (delay per SSE event,
 * per poll answer), truncate cuts an SSE event (or a poll answer) in half and resets. The spec
 * was checked at POST time (spec.ts ACTION_TRANSPORTS) and the registry offers a stream only the
 * faults that act on its transport.
 */
import type { HttpStream } from '../http/stream.js';
import type { Application } from './apply.js';
import { seededRandom } from './random.js';
import { DelayShaper, HoldShaper, type QueueShaper, ThrottleShaper } from './shaper.js';
import type { FaultSpec } from './spec.js';
import { SseEventSplit, StreamTruncateShaper } from './stream-shapers.js';

function shape(
  stream: HttpStream,
  make: () => QueueShaper | SseEventSplit | StreamTruncateShaper,
): Application | null {
  const relay = stream.relay;
  // One shaper per stream: a second shaping fault leaves it alone.
  if (relay === null || relay.shaper !== null) return null;
  const shaper = make();
  relay.shaper = shaper;
  stream.shapingStarts();
  return {
    end() {
      shaper.stop();
    },
  };
}

/** Acts on `stream`; returns what to undo when the fault ends, or null when nothing stays installed. */
export function applyStreamFault(spec: FaultSpec, stream: HttpStream, seed: number): Application | null {
  const relay = stream.relay;
  if (relay === null) return null;
  const sse = stream.transport === 'sse';
  switch (spec.action) {
    case 'close':
      stream.faultEnd('fault_close');
      return null;
    case 'cut':
      stream.faultReset('fault_cut');
      return null;
    case 'stall':
      return shape(stream, () => new HoldShaper(relay));
    case 'delay': {
      const random = seededRandom(seed);
      return shape(stream, () => {
        const d = new DelayShaper(relay, spec.delayMs, spec.jitterMs, random);
        return sse ? new SseEventSplit(relay, d) : d;
      });
    }
    case 'throttle':
      return shape(stream, () => new ThrottleShaper(relay, spec.rate));
    case 'truncate':
      return shape(
        stream,
        () =>
          new StreamTruncateShaper(
            relay,
            () => stream.atEventBoundary,
            sse,
            () => stream.faultReset('fault_truncate'),
          ),
      );
    default:
      // drop-pongs and withhold-close were refused for these transports; upgrade actions act on requests.
      return null;
  }
}
