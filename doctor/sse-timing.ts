/**
 * Does a hop buffer this event stream? Decided from when events arrived, not what they say.
 *
 * A stream that flows arrives event by event, spread over time. A buffering hop holds events
 * back and releases them together: all at once when the response ends or a buffer fills, or in
 * clumps of several events each. A hop that holds a never-ending stream delivers nothing at all,
 * which doctor cannot tell apart from a stream that is merely quiet, so that case is "unknown".
 */

/** Events closer together than this arrived in the same read: one burst. */
export const BURST_GAP_MS = 30;
/** A single burst this late after the request was held back, not sent at once by the server. */
export const LATE_BURST_MS = 500;
/** Bursts carrying this many events on average were released in clumps. */
export const CLUMP_EVENTS = 3;

export interface StreamTiming {
  /** Arrival of each event, ms after the request was sent. */
  readonly arrivals: readonly number[];
  /** The server ended the response within the watch window. */
  readonly ended: boolean;
}

export interface BufferingJudgement {
  /** true: a hop buffers; false: events flow; null: cannot tell. */
  readonly buffered: boolean | null;
  readonly events: number;
  readonly bursts: number;
  readonly reason: string;
}

export function countBursts(arrivals: readonly number[]): number {
  let bursts = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of arrivals) {
    if (t - last > BURST_GAP_MS) bursts++;
    last = t;
  }
  return bursts;
}

export function judgeBuffering(timing: StreamTiming): BufferingJudgement {
  const events = timing.arrivals.length;
  const bursts = countBursts(timing.arrivals);
  const base = { events, bursts };
  if (events === 0) {
    return {
      ...base,
      buffered: null,
      reason: timing.ended
        ? 'the response ended without any event'
        : 'no event arrived: the stream is quiet, or a hop holds it back',
    };
  }
  if (events === 1) return { ...base, buffered: null, reason: 'only one event arrived; spacing unknown' };
  const first = timing.arrivals[0];
  if (bursts === 1) {
    if (first >= LATE_BURST_MS || timing.ended)
      return {
        ...base,
        buffered: true,
        reason: `all ${events} events arrived at once, ${Math.round(first)} ms after the request${timing.ended ? ', as the response ended' : ''}`,
      };
    return { ...base, buffered: null, reason: `${events} events arrived at once, right after the request` };
  }
  if (events / bursts >= CLUMP_EVENTS)
    return { ...base, buffered: true, reason: `${events} events arrived in only ${bursts} bursts` };
  return {
    ...base,
    buffered: false,
    reason: `${events} events arrived spread over ${bursts} separate reads`,
  };
}
