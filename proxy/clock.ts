/**
 * Time and chance as the sidecar sees them. Everything that waits (handshake and drain timeouts,
 * the connection tick, heartbeats, slow-consumer grace, maximum age) reads and schedules through
 * a Clock, and the age jitter draws from `random`, so tests can run them on virtual time.
 */

/** Cancels a scheduled callback; calling it twice is harmless. */
export type Cancel = () => void;

export interface Clock {
  /** Monotonic milliseconds (performance.now() in production). */
  now(): number;
  /** Epoch milliseconds, for timestamps in logs and snapshots. */
  wall(): number;
  /** Runs `fn` once after `ms`. Never keeps the process alive. */
  after(ms: number, fn: () => void): Cancel;
  /** Runs `fn` every `ms`. Never keeps the process alive. */
  every(ms: number, fn: () => void): Cancel;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  random: () => Math.random(),
};
