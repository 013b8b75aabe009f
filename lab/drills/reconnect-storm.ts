/**
 * Reconnect storm: ≥500 clients behind the HAProxy hop all lose their connection when it
 * restarts. Fixed-delay clients come back in lockstep; exponential backoff with full jitter and a
 * cap spreads them. The spike is measured twice: from the swarm's own timeline (attempts) and from
 * the sidecar's close records (sliding WINDOW_MS windows): when each upgrade request reached the
 * sidecar (ts − duration_ms − handshake_ms), which is judged, and when its 101 went out
 * (ts − duration_ms, the moment ws_connections_opened_total went up), which is reported beside
 * it. The swarm runs in its own process
 * (spawnSwarm), so the clients' CPU does not compete with the sidecar's event loop and the sidecar
 * sees the spike as it arrives. The counter itself, sampled every 100 ms, is kept as a cross-check
 * and a chart.
 *
 * The sidecar-side peak is only as good as the path's timing: when the machine is overloaded, the
 * hop, the sidecar and the backend stall and release queued handshakes together (in containers
 * with one core kept busy beside them, 42–67 reached the sidecar in one 100 ms window while the
 * jittered clients sent at most 16). So the log line gives, for each storm, when the upgrade
 * requests reached the sidecar, the handshake p99 and how late the sidecar's event loop ran, and
 * a failing run shows where the bunching came from.
 */
import type { BackoffOptions } from '../client/backoff.js';
import { countByKind, peakAttemptsPerWindow, spawnSwarm, timeUntilAllBack } from '../client/swarm.js';
import { humanDuration } from '../../proxy/config/units.js';
import { EVENT_LOOP_SAMPLE_MS, METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill } from './types.js';
import { histogramPoints, peakPerWindow, sleep, toWs } from './util.js';

const CLIENTS = 500;
/** Every client must be open again within this long after the drop. */
const BACK_WITHIN_MS = 20_000;
/** The mitigation must cut the peak per window by at least this factor, on both measurements. */
const MIN_FACTOR = 4;
/**
 * The window the peaks are counted in (sliding). The fixed-backoff storm is capped by what the
 * path accepts per unit of time, so its peak grows with the window, while the busiest window of
 * the jittered spread grows only by its noise. Per 100 ms in containers the sidecar accepted
 * 84–108 upgrades of a fixed storm against 13–21 jittered (4.0–7.7×, too near 4× to judge);
 * 250 ms leaves the verdict to the mitigation. Charts keep 100 ms buckets.
 */
const WINDOW_MS = 250;
const FIXED: Omit<BackoffOptions, 'random'> = { strategy: 'fixed', baseMs: 500, capMs: 500, maxRetries: 40 };
/**
 * Full jitter spreads the first reconnect of each client uniformly over [0, base). The base is
 * sized to the fleet and to what the path takes. Under fixed backoff the sidecar completes at
 * most 70–110 handshakes per 100 ms (its measured ceiling natively and in containers), so that is
 * the storm peak it can report, however many clients knock at once; the jittered peak it reports
 * must be a quarter of that. 500 clients over 12 s average 4.2 handshakes per 100 ms; the busiest
 * 100 ms window of such a random spread holds about 12, and the path bunches them a little more
 * (the sidecar saw 28 where the swarm sent 21 with a 6 s base). The cap equals the base, so a
 * client whose first try fails (the hop still restarting) waits at most another 12 s: with a 30 s
 * cap one such retry brought the last client back after 19 s, against the 20 s bound.
 */
const JITTER: Omit<BackoffOptions, 'random'> = {
  strategy: 'full',
  baseMs: 12_000,
  capMs: 12_000,
  maxRetries: 8,
};

/** Epoch ms on the Date clock, from a performance.timeOrigin-based epoch (they may drift apart). */
const perfToDate = (perfEpoch: number) =>
  perfEpoch + (Date.now() - (performance.timeOrigin + performance.now()));

async function storm(env: LabEnvironment, backoff: Omit<BackoffOptions, 'random'>, seed: number) {
  const backend = await env.backend({ nodeId: 'node-1' });
  const sidecar = await env.sidecar(backend.address);
  const hop = await env.hop(sidecar.address, 60_000);
  let sampler: NodeJS.Timeout | undefined;
  const swarm = await spawnSwarm({
    url: toWs(hop.url, '/ws'),
    count: CLIENTS,
    backoff,
    seed,
    localAddresses: env.clientAddresses(20),
    connectConcurrency: CLIENTS,
    handshakeTimeoutMs: 5000,
  });
  try {
    // Setup, not the measurement: through three containers on a loaded host the first 500
    // handshakes took longer than 20 s (148/500 open after 20 s, compose at load 25).
    await swarm.whenAllOpen(60_000);
    await sleep(300);
    const before = await sidecar.metric(METRICS.connectionsOpened.name);
    const mark = await swarm.now();
    const wallRestart = Date.now();
    // Sample the sidecar every 100 ms: how much its handshake counter rose ([ms since the
    // restart, increase]) and how late its event loop ran. The loop-delay gauges start a new
    // window at every scrape, so reading them first covers the ~100 ms since the last tick.
    const samples: Array<[number, number]> = [];
    const loopLateMs: number[] = [];
    let last = before;
    const sample = async () => {
      const lag = await sidecar.metric(METRICS.eventLoopLagMax.name);
      loopLateMs.push(Math.max(0, lag * 1000 - EVENT_LOOP_SAMPLE_MS));
      const v = await sidecar.metric(METRICS.connectionsOpened.name);
      samples.push([Date.now() - wallRestart, v - last]);
      last = v;
    };
    sampler = setInterval(() => {
      // A scrape that fails (a busy sidecar refusing for a moment) only loses that sample; it
      // must not end the lab as an unhandled rejection.
      sample().catch(() => {});
    }, 100);
    await hop.restart();
    let backError: string | null = null;
    try {
      await swarm.whenAllReconnected(mark, BACK_WITHIN_MS);
    } catch (err) {
      backError = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
    clearInterval(sampler);
    const reopened = (await sidecar.metric(METRICS.connectionsOpened.name)) - before;
    const timeline = await swarm.stop();
    await swarm.close();

    const firstClose = timeline.find((e) => e.kind === 'close' && e.t >= mark)?.t ?? mark;
    const backMs = timeUntilAllBack(timeline, CLIENTS, firstClose);
    const attempts = timeline.filter((e) => e.kind === 'attempt' && e.t >= firstClose).map((e) => e.t);
    const peakSwarm = peakAttemptsPerWindow(timeline, WINDOW_MS, firstClose);
    const counts = countByKind(timeline.filter((e) => e.t >= firstClose));
    // Attempts per client after the drop: a client never makes more than maxRetries + 1.
    const perClient = new Map<number, number>();
    for (const e of timeline) {
      if (e.kind === 'attempt' && e.t >= firstClose)
        perClient.set(e.client, (perClient.get(e.client) ?? 0) + 1);
    }
    const maxAttempts = Math.max(0, ...perClient.values());

    // The sidecar's side: when each 101 after the restart was sent, from its own close records
    // (successful upgrades only: a refused one carries the HTTP status it answered with).
    await sleep(200);
    const dropWall = perfToDate(swarm.epochMs + firstClose);
    const records = (await sidecar.closeLog()).filter(
      (r) =>
        r.transport === 'websocket' &&
        r.status === undefined &&
        Date.parse(r.ts) - r.duration_ms >= wallRestart,
    );
    const opens = records.map((r) => Date.parse(r.ts) - r.duration_ms);
    // When the upgrade request reached the sidecar's handler (before the backend was asked).
    const arrivals = records.map((r) => Date.parse(r.ts) - r.duration_ms - (r.handshake_ms ?? 0));
    const handshakeMs = records.map((r) => r.handshake_ms ?? 0).sort((a, b) => a - b);
    const q = (p: number) =>
      handshakeMs[Math.min(handshakeMs.length - 1, Math.floor(p * handshakeMs.length))] ?? 0;
    const peakSidecar = peakPerWindow(opens, WINDOW_MS);
    const peakCounter = Math.max(0, ...samples.map(([, d]) => d));
    return {
      backMs,
      backError,
      peakSwarm,
      peakSidecar,
      peakCounter,
      peakArrivals: peakPerWindow(arrivals, WINDOW_MS),
      loopLateMaxMs: Math.max(0, ...loopLateMs),
      handshakeMsP50: q(0.5),
      handshakeMsP99: q(0.99),
      reopened,
      sidecarOpensLogged: opens.length,
      giveUps: counts.give_up,
      maxAttempts,
      attemptsTotal: attempts.length,
      swarmPid: swarm.pid,
      attemptPoints: histogramPoints(attempts, firstClose, firstClose + 5000),
      sidecarPoints: histogramPoints(opens, dropWall, dropWall + 5000),
      samples,
    };
  } finally {
    // Also when the restart throws: a live interval would keep the lab process from exiting.
    clearInterval(sampler);
    await swarm.close();
  }
}

export const drill: Drill = {
  name: 'reconnect-storm',
  title: 'Reconnect storm after the hop restarts',
  // Under compose, two storms of 500 clients, each with a fresh backend, sidecar and hop.
  timeoutMs: 240_000,
  async run(env, { log }) {
    const fixed = await storm(env, FIXED, 1);
    log(
      `fixed backoff: at most ${fixed.peakSwarm} reconnect attempts in ${WINDOW_MS} ms (client swarm, pid ${fixed.swarmPid}), ${fixed.peakArrivals} upgrade requests reached the sidecar and it sent ${fixed.peakSidecar} 101s in ${WINDOW_MS} ms (handshake p99 ${fixed.handshakeMsP99.toFixed(0)} ms, its loop at most ${fixed.loopLateMaxMs.toFixed(0)} ms late), its opened-connections counter rose by at most ${fixed.peakCounter} in 100 ms; ${fixed.backMs === null ? 'not all back' : `all back in ${humanDuration(fixed.backMs)}`}`,
    );
    await env.releaseAll();
    const jitter = await storm(env, JITTER, 1000);
    log(
      `jittered backoff: at most ${jitter.peakSwarm} reconnect attempts in ${WINDOW_MS} ms (client swarm), ${jitter.peakArrivals} upgrade requests reached the sidecar and it sent ${jitter.peakSidecar} 101s in ${WINDOW_MS} ms (handshake p99 ${jitter.handshakeMsP99.toFixed(0)} ms, its loop at most ${jitter.loopLateMaxMs.toFixed(0)} ms late), its opened-connections counter rose by at most ${jitter.peakCounter} in 100 ms; ${jitter.backMs === null ? 'not all back' : `all back in ${humanDuration(jitter.backMs)}`}`,
    );
    const ratioSwarm = fixed.peakSwarm / Math.max(1, jitter.peakSwarm);
    // The sidecar's side is judged by when the upgrade requests reached it: that is the load the
    // clients put on it. Its 101s per window are capped by what the backend answers in that
    // moment (59 where 97 requests arrived, in one fixed storm in containers), so they measure
    // capacity as much as the storm; they are reported beside it.
    const ratioSidecar = fixed.peakArrivals / Math.max(1, jitter.peakArrivals);
    const ratio101 = fixed.peakSidecar / Math.max(1, jitter.peakSidecar);
    const ratioCounter = fixed.peakCounter / Math.max(1, jitter.peakCounter);
    const allBack = (r: typeof fixed) =>
      r.backError === null && r.backMs !== null && r.backMs <= BACK_WITHIN_MS;
    // The close records are the sidecar's own account of the handshakes its counter counted.
    const consistent = (r: typeof fixed) => r.sidecarOpensLogged === r.reopened;
    const backText = (r: typeof fixed) =>
      r.backError ?? (r.backMs === null ? 'not all back' : `all back in ${r.backMs.toFixed(0)} ms`);
    return {
      symptom: check(
        fixed.peakSwarm >= CLIENTS * 0.2 && allBack(fixed),
        `fixed ${FIXED.baseMs} ms: ${fixed.peakSwarm} reconnect attempts in one ${WINDOW_MS} ms window (${CLIENTS} clients, swarm in its own process); ${backText(fixed)}`,
      ),
      detected: check(
        fixed.peakSidecar >= CLIENTS * 0.1 &&
          fixed.reopened >= CLIENTS &&
          consistent(fixed) &&
          consistent(jitter),
        `sidecar ${METRICS.connectionsOpened.name}: +${fixed.reopened} (fixed) +${jitter.reopened} (jitter), close-log opens ${fixed.sidecarOpensLogged}/${jitter.sidecarOpensLogged}; peak ${fixed.peakSidecar} vs ${jitter.peakSidecar} handshakes/${WINDOW_MS} ms (101 timestamps, sliding); counter sampled per ~100 ms: max +${fixed.peakCounter} vs +${jitter.peakCounter} (${ratioCounter.toFixed(1)}×)`,
      ),
      mitigated: check(
        ratioSwarm >= MIN_FACTOR &&
          ratioSidecar >= MIN_FACTOR &&
          allBack(jitter) &&
          jitter.giveUps === 0 &&
          jitter.maxAttempts <= JITTER.maxRetries + 1,
        `full jitter (base ${JITTER.baseMs}, cap ${JITTER.capMs}, ≤${JITTER.maxRetries} retries): peak ${jitter.peakSwarm}/${WINDOW_MS} ms, factor ${ratioSwarm.toFixed(1)}× (swarm) ${ratioSidecar.toFixed(1)}× (upgrade requests at the sidecar; its 101s ${ratio101.toFixed(1)}×), need ≥${MIN_FACTOR}×; ${backText(jitter)} (bound ${BACK_WITHIN_MS} ms); max attempts/client ${jitter.maxAttempts} (cap ${JITTER.maxRetries + 1}), give-ups ${jitter.giveUps}`,
      ),
      figure: `peak ${fixed.peakArrivals} vs ${jitter.peakArrivals} upgrades/${WINDOW_MS}ms at the sidecar (${ratioSidecar.toFixed(1)}×, ${ratioSwarm.toFixed(1)}× swarm)`,
      series: [
        {
          id: 'storm',
          title: 'Reconnect attempts per 100 ms after the hop restart (swarm timeline)',
          xLabel: 'ms after drop',
          yLabel: 'attempts / 100 ms',
          kind: 'bars',
          lines: [
            { name: `fixed ${FIXED.baseMs} ms`, points: fixed.attemptPoints },
            { name: 'full jitter', points: jitter.attemptPoints },
          ],
        },
        {
          id: 'storm-sidecar',
          title: 'Handshakes (101) per 100 ms seen by the sidecar',
          xLabel: 'ms after drop',
          yLabel: '101s / 100 ms',
          kind: 'bars',
          lines: [
            { name: `fixed ${FIXED.baseMs} ms`, points: fixed.sidecarPoints },
            { name: 'full jitter', points: jitter.sidecarPoints },
          ],
        },
      ],
      data: {
        clients: CLIENTS,
        minFactor: MIN_FACTOR,
        backWithinMs: BACK_WITHIN_MS,
        ratioSwarm,
        ratioSidecar,
        ratio101,
        ratioCounter,
        fixed: { ...fixed, attemptPoints: undefined, sidecarPoints: undefined },
        jitter: { ...jitter, attemptPoints: undefined, sidecarPoints: undefined },
      },
    };
  },
};
