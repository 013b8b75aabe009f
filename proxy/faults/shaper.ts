/**
 * Shapers: while a fault is active on one direction of a connection, its shaper takes over the
 * pipe's writes toward dst. Bytes stay in order and unchanged; only when they go out changes.
 * - `DelayShaper`: each chunk (so each message) goes out `delay ± jitter` after it arrived;
 * - `ThrottleShaper`: at most `rate` bytes per second;
 * - `HoldShaper` (stall): nothing goes out until the fault ends.
 * Above HOLD_BYTES queued, the source socket is paused, so a fault never grows memory without
 * bound: the sender meets TCP back-pressure instead. `stop()` writes what is queued and hands
 * the pipe back.
 */
import type { PipeShaper } from '../ws/pipe.js';

/**
 * Where a shaper releases bytes: one direction of a WebSocket (ws/pipe.ts Pipe) or the response
 * body of an SSE stream or long-poll (http/relay.ts StreamRelay).
 */
export interface ShapedOutput {
  shaper: PipeShaper | null;
  readonly dst: { readonly destroyed: boolean };
  writeOut(buf: Buffer): void;
  holdSource(on: boolean): void;
}

export const HOLD_BYTES = 256 * 1024;

export abstract class QueueShaper implements PipeShaper {
  protected readonly bufs: Buffer[] = [];
  protected queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private holding = false;

  constructor(protected readonly pipe: ShapedOutput) {}

  push(buf: Buffer): void {
    this.bufs.push(buf);
    this.queued += buf.length;
    this.queuedAt(performance.now());
    if (!this.holding && this.queued > HOLD_BYTES) {
      this.holding = true;
      this.pipe.holdSource(true);
    }
    if (this.timer === null) this.pump();
  }

  /** Called once per pushed buffer (the last in `bufs`). */
  protected queuedAt(_now: number): void {}

  /** Writes what may go out at `now`; returns ms until more may go, or -1 to wait for a push. */
  protected abstract release(now: number): number;

  protected take(n: number): void {
    const head = this.bufs[0]!;
    if (n >= head.length) {
      this.bufs.shift();
      this.pipe.writeOut(head);
      this.queued -= head.length;
    } else {
      this.bufs[0] = head.subarray(n);
      this.pipe.writeOut(head.subarray(0, n));
      this.queued -= n;
    }
  }

  private readonly pump = (): void => {
    this.timer = null;
    if (this.pipe.dst.destroyed) return;
    const wait = this.bufs.length > 0 ? this.release(performance.now()) : -1;
    if (this.holding && this.queued <= HOLD_BYTES / 2) {
      this.holding = false;
      this.pipe.holdSource(false);
    }
    if (wait >= 0 && this.bufs.length > 0) {
      this.timer = setTimeout(this.pump, Math.max(1, wait));
      this.timer.unref();
    }
  };

  /** The fault ended: what is queued goes out now, in order, and the pipe writes directly again. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pipe.shaper === this) this.pipe.shaper = null;
    for (const b of this.bufs.splice(0)) this.pipe.writeOut(b);
    this.queued = 0;
    if (this.holding) {
      this.holding = false;
      this.pipe.holdSource(false);
    }
  }
}

export class DelayShaper extends QueueShaper {
  private readonly times: number[] = [];
  private last = 0;

  constructor(
    pipe: ShapedOutput,
    private readonly delayMs: number,
    private readonly jitterMs: number,
    private readonly random: () => number,
  ) {
    super(pipe);
  }

  protected override queuedAt(now: number): void {
    const jitter = this.jitterMs > 0 ? (this.random() * 2 - 1) * this.jitterMs : 0;
    // Never before an earlier chunk: the stream keeps its order.
    this.last = Math.max(this.last, now + this.delayMs + jitter);
    this.times.push(this.last);
  }

  protected release(now: number): number {
    while (this.bufs.length > 0 && this.times[0]! <= now) {
      this.times.shift();
      this.take(Number.POSITIVE_INFINITY);
    }
    return this.bufs.length > 0 ? this.times[0]! - now : -1;
  }

  override stop(): void {
    this.times.length = 0;
    super.stop();
  }
}

export class ThrottleShaper extends QueueShaper {
  private tokens = 0;
  private lastAt = performance.now();
  private readonly burst: number;

  constructor(
    pipe: ShapedOutput,
    private readonly rate: number,
  ) {
    super(pipe);
    // At most a twentieth of a second's worth goes out at once.
    this.burst = Math.max(1, Math.floor(rate / 20));
  }

  protected release(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastAt) * this.rate) / 1000);
    this.lastAt = now;
    while (this.bufs.length > 0 && this.tokens >= 1) {
      const n = Math.min(Math.floor(this.tokens), this.bufs[0]!.length);
      this.take(n);
      this.tokens -= n;
    }
    if (this.bufs.length === 0) return -1;
    const want = Math.min(this.burst, this.bufs[0]!.length);
    return Math.min(50, Math.max(5, ((want - this.tokens) * 1000) / this.rate));
  }
}

export class HoldShaper extends QueueShaper {
  protected release(): number {
    return -1;
  }
}
