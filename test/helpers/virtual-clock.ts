/** A virtual clock for the drain scheduler: time moves only when a test calls advance(). */
import type { DrainClock } from '../../proxy/connections/drain.js';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

export class VirtualClock implements DrainClock {
  t = 0;
  private seq = 0;
  private pending: Pending[] = [];

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const p = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.pending.push(p);
    return p.id;
  }

  clearTimer(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }

  /** Timers waiting to fire. */
  get timers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order, at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at || a.id - b.id);
      const p = this.pending[0];
      if (!p || p.at > end) break;
      this.pending.shift();
      this.t = p.at;
      p.fn();
    }
    this.t = end;
  }
}
