/**
 * Idle disconnect at the edge: HAProxy (the ALB stand-in) cuts connections that move no data for
 * T. Quiet WebSockets die at T with 1006; the sidecar's heartbeat (interval < T) keeps data moving
 * through the hop, so they survive 3T.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check, type Drill } from './types.js';
import { poll, sleep, toWs, track } from './util.js';

const T = 2000;
const CLIENTS = 5;

export const drill: Drill = {
  name: 'idle-timeout',
  title: 'Idle disconnect at the edge',
  timeoutMs: 120_000,
  async run(env, { log }) {
    const backend = await env.backend({ nodeId: 'node-1' });
    const plain = await env.sidecar(backend.address);
    const hop = await env.hop(plain.address, T);
    const quiet = Array.from({ length: CLIENTS }, () => track(toWs(hop.url, '/ws')));
    await Promise.all(quiet.map((c) => c.opened));
    await Promise.race([Promise.all(quiet.map((c) => c.closed)), sleep(T * 2)]);
    const durations = quiet.map((c) =>
      c.openedAt !== null && c.closedAt !== null ? c.closedAt - c.openedAt : Number.POSITIVE_INFINITY,
    );
    const codes = quiet.map((c) => c.closeCode);
    for (const c of quiet) c.ws.terminate();
    log(
      `no heartbeat: durations ${durations.map((d) => Math.round(d)).join(', ')} codes ${codes.join(', ')}`,
    );
    // The hop cuts both of its sides; the sidecar may hear about it a moment after the client.
    await poll(
      'the sidecar to log every close',
      async () => ((await plain.closeLog()).length >= CLIENTS ? true : undefined),
      1500,
    ).catch(() => false);
    const closes1006 = await plain.metric(METRICS.closes.name, { code: '1006' });
    const sidecarDurations = (await plain.closeLog())
      .filter((r) => r.transport === 'websocket')
      .map((r) => r.duration_ms);

    const hbSidecar = await env.sidecar(backend.address, { heartbeatInterval: Math.round(T / 3) });
    const hbHop = await env.hop(hbSidecar.address, T);
    const kept = Array.from({ length: CLIENTS }, () => track(toWs(hbHop.url, '/ws')));
    await Promise.all(kept.map((c) => c.opened));
    await sleep(3 * T);
    const survivors = kept.filter((c) => c.closedAt === null).length;
    for (const c of kept) c.ws.close();
    log(`heartbeat ${Math.round(T / 3)} ms: ${survivors}/${CLIENTS} open after ${3 * T} ms`);

    const inBand = durations.every((d) => Math.abs(d - T) <= T * 0.1);
    const median = [...durations].sort((a, b) => a - b)[Math.floor(durations.length / 2)]!;
    return {
      symptom: check(
        inBand && codes.every((c) => c === 1006),
        `quiet clients closed ${codes.join('/')} after ${durations.map((d) => Math.round(d)).join(', ')} ms (T ${T} ms ± 10%)`,
      ),
      detected: check(
        closes1006 >= CLIENTS && sidecarDurations.every((d) => Math.abs(d - T) <= T * 0.1),
        `${METRICS.closes.name}{code="1006"} = ${closes1006}; close-log durations ${sidecarDurations.map((d) => Math.round(d)).join(', ')} ms`,
      ),
      mitigated: check(
        survivors === CLIENTS,
        `with heartbeat ${Math.round(T / 3)} ms: ${survivors}/${CLIENTS} alive after 3T = ${3 * T} ms`,
      ),
      figure: `died at ${(median / 1000).toFixed(2)} s (T=${T / 1000} s); ${survivors}/${CLIENTS} survive 3T`,
      series: [
        {
          id: 'idle',
          title: `Connection durations vs the idle timeout (T = ${T} ms)`,
          xLabel: 'client',
          yLabel: 'ms',
          kind: 'points',
          lines: [
            { name: 'no heartbeat', points: durations.map((d, i) => [i, Math.round(d)]) },
            { name: 'with heartbeat (still open at 3T)', points: kept.map((_, i) => [i, 3 * T]) },
          ],
          marks: [{ name: 'idle timeout T', y: T }],
        },
      ],
      data: { T, durations, codes, sidecarDurations, closes1006, survivors },
    };
  },
};
