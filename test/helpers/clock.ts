/** A virtual clock for the sidecar: time moves only when the test advances it. */
import type { Cancel, Clock } from '../../proxy/clock.js';

interface Timer {
  at: number;
  every: number;
  fn: () => void;
  live: boolean;
}

export class ManualClock implements Clock {
  private t = 1_000;
  private readonly timers: Timer[] = [];
  /** Values random() returns in turn (then 0.5). */
  randoms: number[] = [];

  now(): number {
    return this.t;
  }
  wall(): number {
    return 1_800_000_000_000 + this.t;
  }
  random(): number {
    return this.randoms.shift() ?? 0.5;
  }
  after(ms: number, fn: () => void): Cancel {
    return this.add(ms, 0, fn);
  }
  every(ms: number, fn: () => void): Cancel {
    return this.add(ms, ms, fn);
  }

  /** Moves time forward by `ms`, firing due timers in order; yields to I/O between steps of `step` ms. */
  async advance(ms: number, step = 10): Promise<void> {
    const end = this.t + ms;
    while (this.t < end) {
      const next = Math.min(end, this.t + step);
      for (;;) {
        const due = this.timers.filter((x) => x.live && x.at <= next).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        this.t = Math.max(this.t, due.at);
        if (due.every > 0) due.at += due.every;
        else due.live = false;
        due.fn();
      }
      this.t = next;
      // Let sockets move: a few turns of the event loop per step.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  private add(ms: number, every: number, fn: () => void): Cancel {
    const timer: Timer = { at: this.t + ms, every, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
}
