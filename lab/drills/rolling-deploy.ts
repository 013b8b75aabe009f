/**
 * Rolling deploy: two replicas (a backend with its sidecar each) behind the HAProxy pool, 300
 * clients of the lab's fallback client with its default backoff (full jitter, base 500 ms).
 * One replica is drained the way a rollout stops a pod: once with a window of 0 (every socket
 * closed in the same instant, what a plain SIGTERM handler does) and once staggered over a window.
 * Both times the pool stops routing to the draining replica as soon as its /readyz fails, so every
 * reconnect lands on the surviving replica. The figure is the reconnect peak the survivor sees:
 * the most WebSocket handshakes (101s) in any 100 ms, from its sidecar's close records (each
 * record's open time is ts − duration_ms, the moment ws_connections_opened_total went up).
 */
import { spawnFleet } from '../client/fleet.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment, LabSidecar } from '../env/types.js';
import { check, type Drill } from './types.js';
import { histogramPoints, peakPerWindow, poll, sleep } from './util.js';

const CLIENTS = 300;
/** The staggered window; the at-once drain uses 0. */
const WINDOW_MS = 30_000;
/** Readiness off this long before the first close: a few of the pool's 200 ms health checks. */
const DELAY_MS = 1000;
/** Staggering must cut the survivor's peak by at least this factor. */
const MIN_FACTOR = 4;
/** Every client must be open within this long of the fleet's start. */
const CONNECT_WITHIN_MS = 30_000;
/** Every client must be open again within this long after the drain ended. */
const BACK_WITHIN_MS = 15_000;

interface Phase {
  windowMs: number;
  peak: number;
  handshakes: number;
  /** Clients open at the end, and clients that gave up. */
  open: number;
  gaveUp: number;
  drainedCloses: number;
  survivorActive: number;
  fallbacks: number;
  points: Array<[number, number]>;
  backError: string | null;
}

async function rollOne(env: LabEnvironment, windowMs: number): Promise<Phase> {
  const b1 = await env.backend({ nodeId: 'r1' });
  const b2 = await env.backend({ nodeId: 'r2' });
  const s1 = await env.sidecar(b1.address);
  const s2 = await env.sidecar(b2.address);
  const pool = await env.pool([s1, s2]);
  const fleet = await spawnFleet({ baseUrl: pool.url, count: CLIENTS });
  const held = async (s: LabSidecar) =>
    (await s.metric(METRICS.connectionsActive.name)) +
    (await s.metric(METRICS.realtimeActive.name, { transport: 'sse' })) +
    (await s.metric(METRICS.realtimeActive.name, { transport: 'longpoll' }));
  try {
    // Every client open (a few may have landed on a fallback transport when a handshake was slow
    // on a loaded machine), then both sidecars holding all of them.
    await fleet.whenAllOpen(CONNECT_WITHIN_MS);
    await poll(
      'both replicas holding connections',
      async () => ((await held(s1)) + (await held(s2)) === CLIENTS ? true : undefined),
      10_000,
    );
    await sleep(300);
    const drainStart = Date.now();
    await s1.drain({ windowMs, delayMs: DELAY_MS });
    let backError: string | null = null;
    try {
      await fleet.whenAllOpen(BACK_WITHIN_MS);
    } catch (err) {
      backError = (err as Error).message;
    }
    await sleep(300);
    const counts = await fleet.counts();
    const survivorActive = await held(s2);
    const drainedCloses = await s1.metric(METRICS.drainCloses.name, {
      kind: 'drain',
      pace: windowMs > 0 ? 'staggered' : 'at_once',
    });
    await fleet.close();
    await poll(
      'the survivor logged every close',
      async () => ((await s2.metric(METRICS.connectionsActive.name)) === 0 ? true : undefined),
      10_000,
    );
    const opens = (await s2.closeLog())
      .filter((r) => r.transport === 'websocket' && r.status === undefined)
      .map((r) => Date.parse(r.ts) - r.duration_ms)
      .filter((t) => t >= drainStart);
    return {
      windowMs,
      peak: peakPerWindow(opens, 100),
      handshakes: opens.length,
      open: counts.open,
      gaveUp: counts.gaveUp,
      drainedCloses,
      survivorActive,
      fallbacks: counts.byTransport.sse + counts.byTransport.longpoll,
      points: histogramPoints(opens, drainStart, drainStart + DELAY_MS + WINDOW_MS + 2000),
      backError,
    };
  } finally {
    await fleet.close();
  }
}

export const drill: Drill = {
  name: 'rolling-deploy',
  title: 'Rolling deploy: drain one replica at once, then staggered',
  // Two rounds of two backends, two sidecars and the pool, each draining for up to 31 s; under
  // compose each round also recreates those five services.
  timeoutMs: 240_000,
  async run(env, { log }) {
    const burst = await rollOne(env, 0);
    log(
      `at once: survivor peak ${burst.peak} handshakes/100 ms, ${burst.handshakes} handshakes, ${burst.open}/${CLIENTS} open, ${burst.gaveUp} gave up`,
    );
    await env.releaseAll();
    const staggered = await rollOne(env, WINDOW_MS);
    log(
      `staggered ${WINDOW_MS} ms: survivor peak ${staggered.peak} handshakes/100 ms, ${staggered.handshakes} handshakes, ${staggered.open}/${CLIENTS} open, ${staggered.gaveUp} gave up`,
    );
    const factor = burst.peak / Math.max(1, staggered.peak);
    const allBack = (p: Phase) =>
      p.backError === null && p.open === CLIENTS && p.gaveUp === 0 && p.survivorActive === CLIENTS;
    const text = (p: Phase) =>
      `${p.open}/${CLIENTS} open (${p.survivorActive} on the survivor, ${p.fallbacks} on a fallback transport), ${p.gaveUp} gave up${p.backError ? `; ${p.backError}` : ''}`;
    return {
      symptom: check(
        burst.peak >= burst.drainedCloses / 20 && burst.drainedCloses >= CLIENTS / 4,
        `window 0: ${burst.drainedCloses} connections closed in one instant; the survivor took ${burst.peak} handshakes in one 100 ms window`,
      ),
      detected: check(
        burst.drainedCloses > 0 &&
          staggered.drainedCloses > 0 &&
          burst.handshakes >= burst.drainedCloses &&
          staggered.handshakes >= staggered.drainedCloses,
        `${METRICS.drainCloses.name}: ${burst.drainedCloses} {pace="at_once"}, ${staggered.drainedCloses} {pace="staggered"}; the survivor's sidecar logged ${burst.handshakes} and ${staggered.handshakes} handshakes after the drain began`,
      ),
      mitigated: check(
        factor >= MIN_FACTOR && allBack(burst) && allBack(staggered),
        `staggered over ${WINDOW_MS} ms: peak ${staggered.peak} vs ${burst.peak} handshakes/100 ms, ${factor.toFixed(1)}× lower (need ≥${MIN_FACTOR}×); at once: ${text(burst)}; staggered: ${text(staggered)}`,
      ),
      figure: `survivor peak ${burst.peak} vs ${staggered.peak} handshakes/100 ms (${factor.toFixed(1)}×)`,
      series: [
        {
          id: 'rolling-deploy',
          title: 'Handshakes per 100 ms on the surviving replica after the drain began',
          xLabel: 'ms after the drain began',
          yLabel: '101s / 100 ms',
          kind: 'bars',
          lines: [
            { name: 'drain at once (window 0)', points: burst.points },
            { name: `staggered (${WINDOW_MS / 1000} s window)`, points: staggered.points },
          ],
        },
      ],
      data: {
        clients: CLIENTS,
        windowMs: WINDOW_MS,
        delayMs: DELAY_MS,
        minFactor: MIN_FACTOR,
        factor,
        atOnce: { ...burst, points: undefined },
        staggered: { ...staggered, points: undefined },
      },
    };
  },
};
