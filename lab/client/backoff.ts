// Reconnect delay schedules. Browser-safe: no node: imports, no timers; the caller sleeps.
//
// With n = the number of delays already handed out (0 for the first retry) and
// t = min(cap, base * 2^n):
//
//   fixed        delay = base                         (every retry the same)
//   exponential  delay = t                            (doubles, no jitter: clients that dropped
//                                                     together come back together)
//   full         delay = rand(0, t)                   (mean t/2; spreads a herd the most)
//   equal        delay = t/2 + rand(0, t/2)           (mean 3t/4; never shorter than t/2)
//   decorrelated delay = min(cap, rand(base, prev*3)) (prev = the previous delay, base at
//                                                     first; grows from its own last draw)
//
// rand(a, b) is uniform on [a, b). Jitter is what breaks the synchronisation of clients that were
// all disconnected by the same event, so the backend sees a spread of reconnects, not a spike.

export type BackoffStrategy = 'fixed' | 'exponential' | 'full' | 'equal' | 'decorrelated';

export interface BackoffOptions {
  strategy: BackoffStrategy;
  baseMs: number;
  capMs: number;
  /** How many delays next() hands out before it answers null (give up). Infinity is allowed. */
  maxRetries: number;
  /** Uniform [0, 1) source; Math.random by default. Inject seededRandom() for reproducible runs. */
  random?: () => number;
}

export interface Backoff {
  /** The next delay in ms, or null once maxRetries delays have been handed out. */
  next(): number | null;
  /** Back to the first step, e.g. after a connection stayed up. */
  reset(): void;
  /** How many delays have been handed out since the last reset. */
  readonly attempts: number;
}

const STRATEGIES: readonly BackoffStrategy[] = ['fixed', 'exponential', 'full', 'equal', 'decorrelated'];

export class BackoffOptionsError extends RangeError {
  readonly code = 'SL_CLIENT_BACKOFF_OPTIONS';
}

function validate(opts: BackoffOptions): void {
  if (!STRATEGIES.includes(opts.strategy)) {
    throw new BackoffOptionsError(
      `unknown backoff strategy "${opts.strategy}" (use ${STRATEGIES.join(', ')})`,
    );
  }
  if (!Number.isFinite(opts.baseMs) || opts.baseMs < 0) {
    throw new BackoffOptionsError(`baseMs must be a finite number >= 0, got ${opts.baseMs}`);
  }
  if (!Number.isFinite(opts.capMs) || opts.capMs < opts.baseMs) {
    throw new BackoffOptionsError(`capMs must be finite and >= baseMs (${opts.baseMs}), got ${opts.capMs}`);
  }
  const r = opts.maxRetries;
  if (!(r === Number.POSITIVE_INFINITY || (Number.isInteger(r) && r >= 0))) {
    throw new BackoffOptionsError(`maxRetries must be an integer >= 0 or Infinity, got ${r}`);
  }
}

export function createBackoff(opts: BackoffOptions): Backoff {
  validate(opts);
  const { strategy, baseMs: base, capMs: cap, maxRetries } = opts;
  const random = opts.random ?? Math.random;
  let attempts = 0;
  let prev = base;

  // Exponent clamped so base * 2^n stays finite; min() with cap does the rest.
  const ceiling = (n: number): number => Math.min(cap, base * 2 ** Math.min(n, 1000));
  const between = (lo: number, hi: number): number => lo + random() * (hi - lo);

  function delayFor(n: number): number {
    switch (strategy) {
      case 'fixed':
        return base;
      case 'exponential':
        return ceiling(n);
      case 'full':
        return between(0, ceiling(n));
      case 'equal': {
        const t = ceiling(n);
        return t / 2 + between(0, t / 2);
      }
      case 'decorrelated': {
        prev = Math.min(cap, between(base, prev * 3));
        return prev;
      }
    }
  }

  return {
    next() {
      if (attempts >= maxRetries) return null;
      const d = delayFor(attempts);
      attempts += 1;
      return d;
    },
    reset() {
      attempts = 0;
      prev = base;
    },
    get attempts() {
      return attempts;
    },
  };
}

/**
 * A small seeded uniform [0, 1) generator (mulberry32), so a drill or a test can replay the exact
 * same jitter. Not for anything security related.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
