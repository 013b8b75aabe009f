/**
 * A rolling drain in front of the service: two sidecars (two "replicas" of the service's edge)
 * behind the lab's HAProxy pool, N clients connected through it, each reconnecting the way the
 * lab's fallback client does (its default backoff: full jitter, base 500 ms, cap 30 s, 10
 * retries). One sidecar is drained (admin POST /drain) the way a rollout stops a pod: once with
 * every socket closed in the same instant, once staggered over a window. Both times the pool
 * stops routing to the draining sidecar once its /readyz fails, so every reconnect lands on the
 * other one, and the service takes them all.
 *
 * What it tells about the service and its clients: the reconnect peak the service took (the most
 * 101s in any 100 ms, on the clients' own clock), whether every client came back and how long
 * that took, and the handshakes the service refused on the way.
 */
import { createBackoff } from '../client/backoff.js';
import { DEFAULT_BACKOFF } from '../client/realtime-client.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check } from '../drills/types.js';
import { histogramPoints, peakPerWindow, poll, sleep } from '../drills/util.js';
import type { TargetDrill, TargetSpec } from './types.js';
import { openClient, seconds, type WatchedSocket } from './util.js';

const CLIENTS = 100;
/** The staggered window; the at-once drain uses 0. */
const WINDOW_MS = 5000;
/** Readiness off this long before the first close: a few of the pool's 200 ms health checks. */
const DELAY_MS = 1000;
/** Every client must be open again within this long after the drain's last close. */
const BACK_WITHIN_MS = 15_000;

/** One client: connects, and after losing its connection waits a backoff delay and reconnects. */
class ReconnectingClient {
  /** performance.now() of each 101, each loss of an open connection, each failed attempt. */
  readonly opens: number[] = [];
  readonly losses: number[] = [];
  readonly failures: Array<{ at: number; status: number | null }> = [];
  gaveUp = false;
  private socket: WatchedSocket | null = null;
  private stopped = false;
  private readonly backoff = createBackoff(DEFAULT_BACKOFF);
  readonly done: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly target: TargetSpec,
  ) {
    this.done = this.run();
  }

  get open(): boolean {
    return this.socket !== null && this.socket.openedAt !== null && this.socket.closedAt === null;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const s = openClient(this.url, this.target);
      this.socket = s;
      if (await s.opened) {
        this.opens.push(s.openedAt!);
        this.backoff.reset();
        await s.closed;
        if (this.stopped) return;
        this.losses.push(s.closedAt!);
      } else {
        if (this.stopped) return;
        this.failures.push({ at: performance.now(), status: s.status });
      }
      const delay = this.backoff.next();
      if (delay === null) {
        this.gaveUp = true;
        return;
      }
      await sleep(delay);
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket?.ws.terminate();
  }
}

export interface Phase {
  windowMs: number;
  /** Clients the drained sidecar held, and the closes its drain counted. */
  held: number;
  drainedCloses: number;
  /** Reconnect 101s after the drain began, and their peak per 100 ms. */
  reopens: number;
  peak: number;
  /** From the drain's first close until every client was open again (null: not all came back). */
  recoverMs: number | null;
  open: number;
  gaveUp: number;
  refused: Array<number | null>;
  points: Array<[number, number]>;
}

async function rollOne(env: LabEnvironment, target: TargetSpec, windowMs: number): Promise<Phase> {
  const s1 = await env.sidecar(target.address);
  const s2 = await env.sidecar(target.address);
  const pool = await env.pool([s1, s2]);
  const clients: ReconnectingClient[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) clients.push(new ReconnectingClient(pool.url, target));
    await poll(
      `${CLIENTS} clients connected through the pool`,
      async () => (clients.every((c) => c.open) ? true : undefined),
      15_000,
    );
    await sleep(300);
    const held = await s1.metric(METRICS.connectionsActive.name);
    const t0 = performance.now();
    await s1.drain({ windowMs, delayMs: DELAY_MS });
    const drainedCloses = await s1.metric(METRICS.drainCloses.name, {
      kind: 'drain',
      pace: windowMs > 0 ? 'staggered' : 'at_once',
    });
    const lost = () => clients.reduce((n, c) => n + c.losses.filter((t) => t >= t0).length, 0);
    await poll('the clients saw the drain', async () => (lost() >= drainedCloses ? true : undefined), 5000);
    const firstLoss = () => Math.min(...clients.flatMap((c) => c.losses.filter((t) => t >= t0)));
    let recoverMs: number | null = null;
    try {
      await poll(
        'every client open again',
        async () => (clients.every((c) => c.open) ? true : undefined),
        BACK_WITHIN_MS,
      );
      recoverMs = Math.max(...clients.map((c) => c.opens.at(-1)!)) - firstLoss();
    } catch {
      // Not all came back in time: reported below.
    }
    const reopens = clients.flatMap((c) => c.opens.filter((t) => t >= t0));
    return {
      windowMs,
      held,
      drainedCloses,
      reopens: reopens.length,
      peak: peakPerWindow(reopens, 100),
      recoverMs,
      open: clients.filter((c) => c.open).length,
      gaveUp: clients.filter((c) => c.gaveUp).length,
      refused: clients.flatMap((c) => c.failures.filter((f) => f.at >= t0).map((f) => f.status)),
      points: histogramPoints(reopens, t0, t0 + DELAY_MS + windowMs + 3000),
    };
  } finally {
    for (const c of clients) c.stop();
    await Promise.all(clients.map((c) => c.done));
  }
}

function describePhase(p: Phase): string {
  const back =
    p.recoverMs !== null
      ? `all ${CLIENTS} open again ${seconds(p.recoverMs)} after the first close`
      : `${p.open}/${CLIENTS} open ${seconds(BACK_WITHIN_MS)} after the drain`;
  const refused = p.refused.length
    ? `; ${p.refused.length} reconnect(s) refused (${[...new Set(p.refused.map((s) => s ?? 'no answer'))].join(', ')})`
    : '';
  return `${p.drainedCloses} closed, peak ${p.peak} reconnects per 100 ms, ${back}${p.gaveUp ? `, ${p.gaveUp} gave up` : ''}${refused}`;
}

/** Every client of the phase was open again within the bound, and none gave up. */
function cameBack(p: Phase): boolean {
  return p.recoverMs !== null && p.gaveUp === 0;
}

/** The fixes a failed rolling drain points at (none when every client came back both times). */
export function whatToChange(burst: Phase, staggered: Phase): string[] {
  if (cameBack(burst) && cameBack(staggered)) return [];
  const changes: string[] = [];
  if (burst.gaveUp + staggered.gaveUp > 0)
    changes.push(
      'clients must keep retrying through a rollout: full-jitter exponential backoff (base 500 ms, cap 30 s) with enough retries to outlast it, reset once connected',
    );
  if (burst.refused.length + staggered.refused.length > 0)
    changes.push(
      'accept the reconnects of a drained replica: raise the accept backlog and connection limits, and answer overload with 503 + Retry-After that clients honour',
    );
  if (cameBack(staggered) && !cameBack(burst))
    changes.push(
      'drain staggered, not all at once: close connections over a window on SIGTERM (socketlens --drain-window 15s, --drain-delay 3s)',
    );
  if (changes.length === 0)
    changes.push(
      `take every client back within ${seconds(BACK_WITHIN_MS)}: spread reconnects with full-jitter backoff and drain over a window (socketlens --drain-window)`,
    );
  return changes;
}

export const drill: TargetDrill = {
  name: 'rolling-drain',
  title: 'Rolling drain: one of two sidecars drained at once, then staggered',
  async run(env, target, { log }) {
    const burst = await rollOne(env, target, 0);
    log(`at once: ${describePhase(burst)}`);
    await env.releaseAll();
    const staggered = await rollOne(env, target, WINDOW_MS);
    log(`staggered ${WINDOW_MS} ms: ${describePhase(staggered)}`);
    const fine = cameBack(burst) && cameBack(staggered);
    const did = `drained at once: ${describePhase(burst)}; staggered over ${seconds(WINDOW_MS)}: ${describePhase(staggered)}`;
    const changes = whatToChange(burst, staggered);
    return {
      symptom: check(
        burst.held > 0 && burst.drainedCloses === burst.held && staggered.drainedCloses === staggered.held,
        `the drained sidecar closed its ${burst.held} clients at once, then its ${staggered.held} over ${seconds(WINDOW_MS)}`,
      ),
      detected: check(
        burst.reopens >= burst.drainedCloses && staggered.reopens >= staggered.drainedCloses,
        `${METRICS.drainCloses.name}: ${burst.drainedCloses} {pace="at_once"}, ${staggered.drainedCloses} {pace="staggered"}; the clients saw ${burst.reopens} and ${staggered.reopens} reconnects`,
      ),
      mitigated: check(fine, did),
      figure: `peak ${burst.peak} vs ${staggered.peak}/100 ms, back in ${burst.recoverMs === null ? '—' : seconds(burst.recoverMs)} / ${staggered.recoverMs === null ? '—' : seconds(staggered.recoverMs)}`,
      series: [
        {
          id: 'target-rolling-drain',
          title: 'Reconnects (101s) per 100 ms after the drain began',
          xLabel: 'ms after the drain began',
          yLabel: '101s / 100 ms',
          kind: 'bars',
          lines: [
            { name: 'drain at once', points: burst.points },
            { name: `staggered (${WINDOW_MS / 1000} s window)`, points: staggered.points },
          ],
        },
      ],
      data: {
        clients: CLIENTS,
        windowMs: WINDOW_MS,
        delayMs: DELAY_MS,
        atOnce: { ...burst, points: undefined },
        staggered: { ...staggered, points: undefined },
      },
      service: { did, change: changes.length ? changes.join('; ') : null },
    };
  },
};
