/**
 * Shapers of an SSE stream's or a long-poll's response body (proxy/http/relay.ts):
 * - `SseEventSplit` feeds another shaper one SSE event at a time, so `delay` acts per event even
 *   when the backend writes several events in one chunk (the blank line that ends an event is
 *   where a piece ends);
 * - `StreamTruncateShaper` lets the body through until an SSE event starts (for a long-poll: the
 *   answer's first bytes), writes the first half of that event's bytes in the chunk, then resets.
 * Both allocate on a stream a fault acts on only; the relay's common path is untouched.
 */
import { END, type StreamRelay } from '../http/relay.js';
import { EventBoundaryCounter } from '../http/stream.js';
import type { PipeShaper } from '../ws/pipe.js';
import type { QueueShaper } from './shaper.js';

/** The gap between the half event and the reset, so the client reads the one before the other. */
const CUT_GAP_MS = 50;

export class SseEventSplit implements PipeShaper {
  private readonly events = new EventBoundaryCounter();

  constructor(
    private readonly relay: StreamRelay,
    private readonly inner: QueueShaper,
  ) {}

  push(buf: Buffer): void {
    if (buf === END) {
      this.inner.push(buf);
      return;
    }
    let pos = 0;
    while (pos < buf.length) {
      const end = this.events.scan(buf, pos, buf.length, true);
      this.inner.push(pos === 0 && end === buf.length ? buf : buf.subarray(pos, end));
      pos = end;
    }
  }

  stop(): void {
    this.inner.stop();
    if (this.relay.shaper === this) this.relay.shaper = null;
  }
}

export class StreamTruncateShaper implements PipeShaper {
  private armed: boolean;
  private cut = false;
  /** Bytes of the truncated event (or answer) that went out, once cut. */
  sentOfEvent = -1;

  constructor(
    private readonly relay: StreamRelay,
    /** True between two SSE events; for a long-poll, always. */
    private readonly atBoundary: () => boolean,
    private readonly sse: boolean,
    private readonly onCut: () => void,
  ) {
    this.armed = atBoundary();
  }

  push(buf: Buffer): void {
    if (this.cut) return;
    if (!this.armed || buf === END) {
      this.relay.writeOut(buf);
      // The stream's own counter has read this chunk already: armed once it is between events.
      this.armed = this.atBoundary();
      return;
    }
    const piece = this.sse ? new EventBoundaryCounter().scan(buf, 0, buf.length, true) : buf.length;
    if (piece < 2) {
      // A stray blank line or a one-byte answer: nothing to cut in half yet.
      this.relay.writeOut(buf);
      this.armed = this.atBoundary();
      return;
    }
    const n = Math.floor(piece / 2);
    this.cut = true;
    this.sentOfEvent = n;
    this.relay.holdSource(true);
    const res = this.relay.dst;
    if (res.destroyed) this.onCut();
    else res.write(buf.subarray(0, n), () => setTimeout(this.onCut, CUT_GAP_MS).unref());
  }

  stop(): void {
    if (this.relay.shaper === this) this.relay.shaper = null;
  }
}
