// Reading a swarm's timeline: counts, the reconnect spike, and recovery time. Pure functions.

export type SwarmEventKind = 'attempt' | 'open' | 'close' | 'fail' | 'give_up';

export interface SwarmEvent {
  /** ms since the swarm started. */
  t: number;
  /** Client index, 0..count-1. */
  client: number;
  /**
   * attempt: a connect started; open: it got its 101; close: an open socket closed (with code);
   * fail: an attempt ended without opening (code 1006, error text); give_up: maxRetries used up.
   */
  kind: SwarmEventKind;
  code?: number;
  error?: string;
}

export function countByKind(timeline: readonly SwarmEvent[]): Record<SwarmEventKind, number> {
  const counts: Record<SwarmEventKind, number> = { attempt: 0, open: 0, close: 0, fail: 0, give_up: 0 };
  for (const e of timeline) counts[e.kind] += 1;
  return counts;
}

/** The most connect attempts that started within any window of `windowMs` (sliding). */
export function peakAttemptsPerWindow(timeline: readonly SwarmEvent[], windowMs = 100, fromT = 0): number {
  const times = timeline
    .filter((e) => e.kind === 'attempt' && e.t >= fromT)
    .map((e) => e.t)
    .sort((a, b) => a - b);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo += 1;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/**
 * ms from `fromT` (default: the first close) until all `count` clients were open again, or null
 * if that never happened in the timeline.
 */
export function timeUntilAllBack(
  timeline: readonly SwarmEvent[],
  count: number,
  fromT?: number,
): number | null {
  const start = fromT ?? timeline.find((e) => e.kind === 'close')?.t;
  if (start === undefined) return null;
  const open = new Set<number>();
  for (const e of timeline) {
    if (e.kind === 'open') open.add(e.client);
    else if (e.kind === 'close') open.delete(e.client);
    if (e.t >= start && open.size === count && e.kind === 'open') return e.t - start;
  }
  return null;
}
