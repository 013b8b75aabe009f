/**
 * Reconnect storm: ≥500 clients behind the HAProxy hop all lose their connection when it
 * restarts. Fixed-delay clients come back in lockstep; exponential backoff with full jitter and a
 * cap spreads them. The spike is measured twice: from the swarm's own timeline (attempts) and from
 * the sidecar (101s sent, from its close log's open timestamps, sliding 100 ms window).
 */
import type { BackoffOptions } from '../client/backoff.js';
import { countByKind, peakAttemptsPerWindow, runSwarm, timeUntilAllBack } from '../client/swarm.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill } from './types.js';
import { histogramPoints, peakPerWindow, sleep, toWs } from './util.js';

const CLIENTS = 500;
const BACK_WITHIN_MS = 15_000;
const FIXED: Omit<BackoffOptions, 'random'> = { strategy: 'fixed', baseMs: 500, capMs: 500, maxRetries: 40 };
const JITTER: Omit<BackoffOptions, 'random'> = {
  strategy: 'full',
  baseMs: 2500,
  capMs: 10_000,
  maxRetries: 8,
};

async function storm(env: LabEnvironment, backoff: Omit<BackoffOptions, 'random'>, seed: number) {
  const backend = await env.backend({ nodeId: 'node-1' });
  const sidecar = await env.sidecar(backend.address);
  const hop = await env.hop(sidecar.address, 60_000);
  const swarm = runSwarm({
    url: toWs(hop.url, '/ws'),
    count: CLIENTS,
    backoff,
    seed,
    localAddresses: env.clientAddresses(20),
    connectConcurrency: CLIENTS,
    handshakeTimeoutMs: 5000,
  });
  try {
    await swarm.whenAllOpen(20_000);
    await sleep(300);
    const before = await sidecar.metric(METRICS.connectionsOpened.name);
    const wallRestart = Date.now();
    const restartT = swarm.timeline.length ? swarm.timeline[swarm.timeline.length - 1]!.t : 0;
    // Sample the sidecar's handshake counter every 100 ms for the chart.
    const samples: Array<[number, number]> = [];
    let last = before;
    const sampler = setInterval(() => {
      void sidecar.metric(METRICS.connectionsOpened.name).then((v) => {
        samples.push([Date.now() - wallRestart, v - last]);
        last = v;
      });
    }, 100);
    await hop.restart();
    const deadline = performance.now() + BACK_WITHIN_MS;
    while (swarm.openCount() < CLIENTS && performance.now() < deadline) await sleep(50);
    await sleep(200);
    clearInterval(sampler);
    const firstClose = swarm.timeline.find((e) => e.kind === 'close' && e.t >= restartT)?.t ?? restartT;
    const backMs = timeUntilAllBack(swarm.timeline, CLIENTS, firstClose);
    const attempts = swarm.timeline.filter((e) => e.kind === 'attempt' && e.t >= firstClose).map((e) => e.t);
    const peakSwarm = peakAttemptsPerWindow(swarm.timeline, 100, firstClose);
    const counts = countByKind(swarm.timeline.filter((e) => e.t >= firstClose));
    // Attempts per client after the drop: a client never makes more than maxRetries + 1.
    const perClient = new Map<number, number>();
    for (const e of swarm.timeline) {
      if (e.kind === 'attempt' && e.t >= firstClose)
        perClient.set(e.client, (perClient.get(e.client) ?? 0) + 1);
    }
    const maxAttempts = Math.max(0, ...perClient.values());
    await swarm.stop();
    await sleep(200);
    const opens = (await sidecar.closeLog())
      .filter((r) => r.transport === 'websocket')
      .map((r) => Date.parse(r.ts) - r.duration_ms - wallRestart)
      .filter((t) => t >= 0);
    const peakSidecar = peakPerWindow(opens, 100);
    return {
      backMs,
      peakSwarm,
      peakSidecar,
      reopened: (await sidecar.metric(METRICS.connectionsOpened.name)) - before,
      giveUps: counts.give_up,
      maxAttempts,
      attemptsTotal: attempts.length,
      attemptPoints: histogramPoints(attempts, firstClose, firstClose + 5000),
      sidecarPoints: histogramPoints(opens, 0, 5000),
      samples,
    };
  } finally {
    await swarm.stop();
  }
}

export const drill: Drill = {
  name: 'reconnect-storm',
  title: 'Reconnect storm after the hop restarts',
  async run(env, { log }) {
    const fixed = await storm(env, FIXED, 1);
    log(
      `fixed: peak ${fixed.peakSwarm}/100ms (swarm), ${fixed.peakSidecar}/100ms (sidecar), back in ${fixed.backMs} ms`,
    );
    await env.releaseAll();
    const jitter = await storm(env, JITTER, 1000);
    log(
      `jitter: peak ${jitter.peakSwarm}/100ms (swarm), ${jitter.peakSidecar}/100ms (sidecar), back in ${jitter.backMs} ms`,
    );
    const ratioSwarm = fixed.peakSwarm / Math.max(1, jitter.peakSwarm);
    const ratioSidecar = fixed.peakSidecar / Math.max(1, jitter.peakSidecar);
    const allBack = (r: typeof fixed) => r.backMs !== null && r.backMs <= BACK_WITHIN_MS;
    return {
      symptom: check(
        fixed.peakSwarm >= CLIENTS * 0.2 && allBack(fixed),
        `fixed ${FIXED.baseMs} ms: ${fixed.peakSwarm} reconnect attempts in one 100 ms window (${CLIENTS} clients)`,
      ),
      detected: check(
        fixed.peakSidecar >= CLIENTS * 0.1 && fixed.reopened >= CLIENTS,
        `sidecar ${METRICS.connectionsOpened.name}: +${fixed.reopened}, peak ${fixed.peakSidecar} handshakes/100 ms (fixed) vs ${jitter.peakSidecar} (jitter)`,
      ),
      mitigated: check(
        ratioSwarm >= 4 &&
          ratioSidecar >= 4 &&
          allBack(jitter) &&
          jitter.giveUps === 0 &&
          jitter.maxAttempts <= JITTER.maxRetries + 1,
        `full jitter (base ${JITTER.baseMs}, cap ${JITTER.capMs}, ≤${JITTER.maxRetries} retries): peak ${jitter.peakSwarm}/100 ms, ratio ${ratioSwarm.toFixed(1)}× (swarm) ${ratioSidecar.toFixed(1)}× (sidecar); all back in ${jitter.backMs} ms (bound ${BACK_WITHIN_MS}); max attempts/client ${jitter.maxAttempts}, give-ups ${jitter.giveUps}`,
      ),
      figure: `peak ${fixed.peakSidecar} vs ${jitter.peakSidecar} /100ms (${ratioSidecar.toFixed(1)}×)`,
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
          xLabel: 'ms after restart',
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
        fixed: { ...fixed, attemptPoints: undefined, sidecarPoints: undefined },
        jitter: { ...jitter, attemptPoints: undefined, sidecarPoints: undefined },
      },
    };
  },
};
