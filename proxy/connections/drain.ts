/**
 * The staggered closer: closes a set of connections spread over a window instead of all at once,
 * so the clients that reconnect elsewhere arrive as a trickle rather than a herd.
 *
 * The window is cut into one slot per connection and each connection is closed at a random point
 * of its own slot (stratified jitter): the close rate is even over the whole window, and no two
 * sidecars draining with the same window close in lockstep. The order is shuffled, so which
 * connection goes first is random too. One timer at a time runs the schedule, so a drain of
 * 100,000 connections costs one pending timer, not 100,000.
 *
 * Time and randomness are injected (`DrainClock`, `random`), so tests run a drain on virtual time.
 */

/** A monotonic clock in milliseconds and a one-shot timer. */
export interface DrainClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: DrainClock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * When each of `k` closes happens, in ms from the start: slot i spans [i·w/k, (i+1)·w/k) and its
 * close falls uniformly inside it. Ascending. A window of 0 puts every close at 0 (all at once).
 */
export function staggerOffsets(k: number, windowMs: number, random: () => number): number[] {
  const out = new Array<number>(k);
  const slot = k > 0 ? windowMs / k : 0;
  for (let i = 0; i < k; i++) out[i] = (i + random()) * slot;
  return out;
}

/** The first ⌈share·n⌉ items of a Fisher–Yates shuffle of `items` (a uniform random subset, in random order). */
export function pickShare<T>(items: readonly T[], share: number, random: () => number): T[] {
  const a = [...items];
  const k = Math.min(a.length, Math.ceil(Math.max(0, Math.min(1, share)) * a.length));
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    const tmp = a[i]!;
    a[i] = a[j]!;
    a[j] = tmp;
  }
  a.length = k;
  return a;
}

export type StaggerState = 'closing' | 'done' | 'cancelled';

export interface StaggerOptions<T> {
  targets: readonly T[];
  windowMs: number;
  /** Closes one target; answers false when it had already gone (it is then not counted). */
  close(target: T): boolean;
  clock: DrainClock;
  random: () => number;
  /** After each batch of closes: how many were closed so far and how many remain scheduled. */
  onProgress?(closed: number, remaining: number): void;
}

export class StaggeredClose<T> {
  state: StaggerState = 'closing';
  /** Targets closed by this schedule (gone ones are skipped and not counted). */
  closed = 0;
  /** Targets skipped because they had already gone when their turn came. */
  skipped = 0;
  readonly finished: Promise<void>;

  private readonly order: T[];
  private readonly offsets: number[];
  private next = 0;
  private timer: unknown = null;
  private readonly t0: number;
  private resolveFinished!: () => void;

  constructor(private readonly opts: StaggerOptions<T>) {
    this.order = pickShare(opts.targets, 1, opts.random);
    this.offsets = staggerOffsets(this.order.length, Math.max(0, opts.windowMs), opts.random);
    this.finished = new Promise((r) => {
      this.resolveFinished = r;
    });
    this.t0 = opts.clock.now();
    this.step();
  }

  /** Scheduled closes not yet made. */
  get remaining(): number {
    return this.order.length - this.next;
  }

  /** Closes every remaining target now (the end of a drain that must not wait any longer). */
  flush(): void {
    if (this.state !== 'closing') return;
    this.closeUpTo(this.order.length);
    this.end('done');
  }

  /** Stops the schedule; targets not yet closed stay open. */
  cancel(): void {
    if (this.state !== 'closing') return;
    this.end('cancelled');
  }

  private step = (): void => {
    this.timer = null;
    if (this.state !== 'closing') return;
    const elapsed = this.opts.clock.now() - this.t0;
    let upTo = this.next;
    // Within a millisecond counts as due: timers have that resolution, and a timer that fires a
    // rounding error early must not be re-armed for 0 ms forever.
    while (upTo < this.order.length && this.offsets[upTo]! <= elapsed + 1) upTo++;
    if (upTo > this.next) this.closeUpTo(upTo);
    if (this.next >= this.order.length) {
      this.end('done');
      return;
    }
    this.timer = this.opts.clock.setTimer(this.step, Math.max(1, this.offsets[this.next]! - elapsed));
  };

  private closeUpTo(upTo: number): void {
    for (; this.next < upTo; this.next++) {
      if (this.opts.close(this.order[this.next]!)) this.closed++;
      else this.skipped++;
    }
    this.opts.onProgress?.(this.closed, this.remaining);
  }

  private end(state: 'done' | 'cancelled'): void {
    this.state = state;
    if (this.timer !== null) this.opts.clock.clearTimer(this.timer);
    this.timer = null;
    this.resolveFinished();
  }
}
