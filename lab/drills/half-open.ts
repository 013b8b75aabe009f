/**
 * Half-open (zombie) connection: Toxiproxy's `timeout` toxic with timeout 0 on both streams
 * drops every byte and never closes, like a NAT that forgot the flow. Without a heartbeat the
 * sidecar keeps counting the connection as active; with its heartbeat (interval × misses) it ends
 * it and counts the misses.
 *
 * The bound is the mechanism's. The sidecar pings one interval after the last byte it got from the
 * client and closes after MISSES unanswered pings, one interval apart: (MISSES + 1) intervals after
 * that last byte. The last byte can come after the drill added the toxics: Toxiproxy applies them
 * to a live link asynchronously, so a pong already on its way may still pass (under compose on a
 * loaded host the end came one interval later than natively: 4.0 s vs 2.9 s, load 28). Hence one
 * more interval, plus timer lateness. The end is when the sidecar decided it, which is when its
 * active gauge drops: the time the scrape that first reads 0 was sent, not when its answer came
 * back (a scrape can take hundreds of ms on a loaded machine). A sidecar that is slow to answer
 * its scrapes runs its timers late by as much, so the slowest scrape answer of the watch is added
 * to the bound: under compose at load 25 scrapes took up to 2.4 s and the end came at 6.6 s. The
 * close record must say heartbeat_timeout. Without a heartbeat the connection is watched for
 * longer than the bound.
 */
import { humanDuration } from '../../proxy/config/units.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill, type Series } from './types.js';
import { sleep, toWs, track } from './util.js';

const INTERVAL_MS = 1000;
const MISSES = 2;
/** Timer lateness allowed on top of (misses + 2) intervals. */
const TOLERANCE_MS = 500;
const BOUND_MS = (MISSES + 2) * INTERVAL_MS + TOLERANCE_MS;
const ZOMBIE_WAIT_MS = BOUND_MS + 500;

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
  // The slowest scrape answer: how late the sidecar itself ran while it was watched.
  let lateMs = 0;
  while (performance.now() - t0 < watchMs + lateMs) {
    const t = performance.now() - t0;
    const active = await sidecar.metric(METRICS.connectionsActive.name);
    lateMs = Math.max(lateMs, performance.now() - t0 - t);
    points.push([Math.round(t), active]);
    if (active === 0 && endedAt === null) {
      endedAt = t;
      break;
    }
    await sleep(50);
  }
  const active = await sidecar.metric(METRICS.connectionsActive.name);
  const misses = await sidecar.metric(METRICS.heartbeatMisses.name);
  const record = (await sidecar.closeLog()).find(
    (r) => r.transport === 'websocket' && r.reason === 'heartbeat_timeout',
  );
  client.ws.terminate();
  await link.clearToxics();
  return { active, misses, endedAt, lateMs: Math.round(lateMs), reason: record?.reason ?? null, points };
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
    const withHb = await blackholed(env, true, BOUND_MS + 3000);
    // A sidecar that answered a scrape N ms late ran its heartbeat timers up to N ms late as well.
    const bound = BOUND_MS + withHb.lateMs;
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
        withHb.endedAt !== null && withHb.endedAt <= bound && withHb.reason === 'heartbeat_timeout',
        `heartbeat ended it after ${withHb.endedAt === null ? 'never' : `${Math.round(withHb.endedAt)} ms`} (bound ${bound} ms: ${BOUND_MS} + ${withHb.lateMs} ms, its slowest scrape answer meanwhile; close reason ${withHb.reason ?? 'none'})`,
      ),
      figure: `zombie ended in ${withHb.endedAt === null ? '∞' : `${(withHb.endedAt / 1000).toFixed(2)} s`}`,
      series,
      data: { without, withHeartbeat: withHb, boundMs: bound },
    };
  },
};
