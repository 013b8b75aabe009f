/**
 * The shape of a doctor run: a list of checks and a verdict. `--json` prints exactly this
 * (DoctorReport); the human report renders the same objects.
 *
 * Check ids, in order: dns, tcp, tls, ws.upgrade, ws.accept, ws.negotiation, ws.roundtrip,
 * ws.idle, ws.keepalive, sse, poll, eio.open, eio.upgrade. A step that could not run is present with status "skip".
 */

/** ok ✓, warn ! (works, but worth knowing), fail ✗ (a problem: exit code 1), skip (not run). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export type CheckId =
  | 'dns'
  | 'tcp'
  | 'tls'
  | 'ws.upgrade'
  | 'ws.accept'
  | 'ws.negotiation'
  | 'ws.roundtrip'
  | 'ws.idle'
  | 'ws.keepalive'
  | 'sse'
  | 'poll'
  /** engine.io (Socket.IO): the handshake over polling, then the upgrade of that session. */
  | 'eio.open'
  | 'eio.upgrade';

export interface Check {
  readonly id: CheckId;
  readonly title: string;
  readonly status: CheckStatus;
  /** One line for humans. */
  readonly summary: string;
  /** Wall time the step took, in ms. */
  readonly durationMs: number;
  /** Measured facts, per check (see the probe that produces it). */
  readonly data: Record<string, unknown>;
}

export type Transport = 'websocket' | 'sse' | 'long-poll' | 'none';

export interface Fix {
  /** Stable id of the problem: upgrade-stripped, idle-timeout, sse-buffered, ... */
  readonly problem: string;
  /** fail: the cause of a ✗ check; warn: worth fixing, but nothing is broken yet. */
  readonly severity: 'fail' | 'warn';
  readonly advice: string;
  /** Config lines to add, when the fix is a known config change. */
  readonly lines: readonly string[];
}

export interface Verdict {
  /** The best transport that works through this path, WebSocket first (the fallback ladder). */
  readonly transport: Transport;
  readonly healthy: boolean;
  readonly summary: string;
  readonly fixes: readonly Fix[];
}

export interface DoctorReport {
  readonly url: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly checks: readonly Check[];
  readonly verdict: Verdict;
  /** 0 healthy, 1 a problem was found. */
  readonly exitCode: 0 | 1;
}

/** Receives each check as soon as it is known, and each step as it starts (for progress). */
export interface ProgressSink {
  step(title: string): void;
  check(check: Check): void;
}

/**
 * Answers to a plain GET that mean "no such transport here": 404 (no route), 405 (the route
 * takes other methods), 426 (a WebSocket-only endpoint asking for an upgrade).
 */
export const NOT_OFFERED: ReadonlySet<number> = new Set([404, 405, 426]);

/** Rounds a millisecond figure to 0.1 ms for reports. */
export function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * Starts timing one step and returns the function that builds its result; `base` goes into the
 * result's data along with whatever the step adds.
 */
/** What stepResult() returns: it builds the step's Check from a status, a summary and data. */
export type StepDone = (status: CheckStatus, summary: string, data: Record<string, unknown>) => Check;

/**
 * The result for a transport that is not at `path`: a failure if the user asked for it,
 * otherwise a skip that names the flag (`flag`, e.g. `--sse`) pointing doctor elsewhere.
 * `name` is the transport as the summary names it (`SSE`, `long-poll`).
 */
export function transportMissing(
  done: StepDone,
  path: string,
  asked: boolean,
  flag: string,
  name: string,
): (why: string, data: Record<string, unknown>) => Check {
  return (why, data) =>
    asked
      ? done('fail', `${path}: ${why}`, { ...data, offered: false })
      : done('skip', `not offered at ${path} (${why}); pass ${flag} PATH if ${name} lives elsewhere`, {
          ...data,
          offered: false,
        });
}

export function stepResult(id: CheckId, title: string, base: Record<string, unknown>): StepDone {
  const t0 = performance.now();
  return (status, summary, data) => ({
    id,
    title,
    status,
    summary,
    durationMs: ms(performance.now() - t0),
    data: { ...base, ...data },
  });
}
