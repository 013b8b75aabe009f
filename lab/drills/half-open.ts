/**
 * Half-open (zombie) connection: Toxiproxy's `timeout` toxic with timeout 0 on both streams
 * drops every byte and never closes, like a NAT that forgot the flow. Without a heartbeat the
 * sidecar keeps counting the connection as active; with its heartbeat (interval × misses) it ends
 * it and counts the misses.
 */
import { humanDuration } from '../../proxy/config/units.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill, type Series } from './types.js';
import { sleep, toWs, track } from './util.js';

const INTERVAL_MS = 1000;
const MISSES = 2;
const ZOMBIE_WAIT_MS = 4000;
const TOLERANCE_MS = 500;

async function blackholed(env: LabEnvironment, heartbeat: boolean, watchMs: number) {
  const backend = await env.backend({ nodeId: 'node-1' });
  const sidecar = await env.sidecar(
    backend.address,
    heartbeat ? { heartbeatInterval: INTERVAL_MS, heartbeatMisses: MISSES } : {},
  );
  const link = await env.faultLink(heartbeat ? 'zombie_hb' : 'zombie', sidecar.address);
  const client = track(toWs(link.url, '/ws'));
  if (!(await client.opened)) throw new Error('client could not connect through toxiproxy');
  await sleep(100);
  await link.addToxic({ type: 'timeout', attributes: { timeout: 0 }, stream: 'downstream' });
  await link.addToxic({ type: 'timeout', attributes: { timeout: 0 }, stream: 'upstream' });
  const t0 = performance.now();
  const points: Array<[number, number]> = [];
  let endedAt: number | null = null;
  while (performance.now() - t0 < watchMs) {
    const active = await sidecar.metric(METRICS.connectionsActive.name);
    const t = performance.now() - t0;
    points.push([Math.round(t), active]);
    if (active === 0 && endedAt === null) {
      endedAt = t;
      break;
    }
    await sleep(50);
  }
  const active = await sidecar.metric(METRICS.connectionsActive.name);
  const misses = await sidecar.metric(METRICS.heartbeatMisses.name);
  client.ws.terminate();
  await link.clearToxics();
  return { active, misses, endedAt, points };
}

export const drill: Drill = {
  name: 'half-open',
  title: 'Half-open (zombie) connection',
  // Under compose, two rounds of a backend, a sidecar and a link.
  timeoutMs: 150_000,
  async run(env, { log }) {
    const without = await blackholed(env, false, ZOMBIE_WAIT_MS);
    log(
      `without a heartbeat: ${without.active} connection still counted active ${humanDuration(ZOMBIE_WAIT_MS)} after the link went dead`,
    );
    await env.releaseAll();
    const bound = (MISSES + 1) * INTERVAL_MS + TOLERANCE_MS;
    const withHb = await blackholed(env, true, bound + 3000);
    log(
      `with the heartbeat: the sidecar closed the dead connection after ${withHb.endedAt === null ? 'no end seen' : humanDuration(withHb.endedAt)}, ${withHb.misses} missed pongs`,
    );
    const series: Series[] = [
      {
        id: 'zombie',
        title: 'Time to end a zombie: ws_connections_active after the blackhole',
        xLabel: 'ms after blackhole',
        yLabel: 'active',
        kind: 'line',
        lines: [
          { name: 'no heartbeat', points: without.points },
          { name: `heartbeat ${INTERVAL_MS} ms × ${MISSES}`, points: withHb.points },
        ],
      },
    ];
    return {
      symptom: check(
        without.active === 1,
        `no heartbeat: ${METRICS.connectionsActive.name} = ${without.active} ${ZOMBIE_WAIT_MS / 1000} s after the blackhole`,
      ),
      detected: check(withHb.misses >= 1, `${METRICS.heartbeatMisses.name} = ${withHb.misses}`),
      mitigated: check(
        withHb.endedAt !== null && withHb.endedAt <= bound,
        `heartbeat ended it after ${withHb.endedAt === null ? 'never' : `${Math.round(withHb.endedAt)} ms`} (bound ${bound} ms)`,
      ),
      figure: `zombie ended in ${withHb.endedAt === null ? '∞' : `${(withHb.endedAt / 1000).toFixed(2)} s`}`,
      series,
      data: { without, withHeartbeat: withHb, boundMs: bound },
    };
  },
};
