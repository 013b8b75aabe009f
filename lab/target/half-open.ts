/**
 * A half-open client, from the service's side: the client vanishes without a FIN or a close frame
 * (Toxiproxy blackholes both directions, as a dead NAT flow or a phone that lost its network
 * does). Does the service notice the zombie, and when? A sidecar between Toxiproxy and the service
 * sees the service's pings and the moment the service ends the connection.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check } from '../drills/types.js';
import { sleep } from '../drills/util.js';
import type { TargetDrill } from './types.js';
import { HEARTBEAT_FIX, openClient, seconds } from './util.js';

export const drill: TargetDrill = {
  name: 'half-open',
  title: 'Half-open client: does the service notice the zombie?',
  async run(env, target, { log }) {
    const sidecar = await env.sidecar(target.address);
    const link = await env.faultLink('target_zombie', sidecar.address);
    const client = openClient(link.url, target);
    if (!(await client.opened))
      throw new Error(`no 101 from ${target.url.origin}${target.wsPath} (status ${client.status})`);
    await sleep(300);
    const pings0 = await sidecar.metric(METRICS.pings.name, { direction: 'server_to_client' });
    await link.addToxic({ type: 'timeout', attributes: { timeout: 0 }, stream: 'downstream' });
    await link.addToxic({ type: 'timeout', attributes: { timeout: 0 }, stream: 'upstream' });
    const t0 = performance.now();
    const points: Array<[number, number]> = [];
    let endedAt: number | null = null;
    let closeFrame: number | null = null;
    while (performance.now() - t0 < target.zombieWindowMs) {
      const active = await sidecar.metric(METRICS.connectionsActive.name);
      // A close frame from the service counts as noticing, even while its socket lingers.
      const closes = (await sidecar.backendCloses?.()) ?? [];
      const t = performance.now() - t0;
      points.push([Math.round(t), active]);
      if (active === 0 || closes.length > 0) {
        endedAt = t;
        closeFrame = closes[0] ?? null;
        break;
      }
      await sleep(50);
    }
    const pings = (await sidecar.metric(METRICS.pings.name, { direction: 'server_to_client' })) - pings0;
    const record = (await sidecar.closeLog()).find(
      (r) => r.transport === 'websocket' && r.close_code !== null,
    );
    client.ws.terminate();
    await link.clearToxics();
    log(`ended=${endedAt === null ? 'no' : Math.round(endedAt)} pings=${pings} close=${record?.close_code}`);
    const noticed = endedAt !== null && (closeFrame !== null || record?.initiator === 'server');
    const how =
      closeFrame !== null ? `close frame ${closeFrame}` : `close ${record?.close_code}, ${record?.reason}`;
    const did = noticed
      ? `it noticed the zombie after ${seconds(endedAt!)} and closed it (${how}); it sent ${pings} ping frame(s) the client could not answer`
      : endedAt !== null
        ? `the connection ended after ${seconds(endedAt)} but not by the service (${record?.initiator} ${record?.reason})`
        : pings > 0
          ? `it sent ${pings} ping(s) that went unanswered, yet still held the connection ${seconds(target.zombieWindowMs)} after the client vanished: it pings but does not close on a missing pong`
          : `it still held the connection ${seconds(target.zombieWindowMs)} after the client vanished, and sent no ping: it never notices`;
    return {
      symptom: check(true, 'client blackholed in both directions (no FIN, no close frame)'),
      detected: check(
        true,
        `sidecar: ${METRICS.pings.name}{server_to_client} +${pings}; ${noticed ? `${how} from the server` : `${METRICS.connectionsActive.name} still 1`}`,
      ),
      mitigated: check(noticed, did),
      figure: noticed
        ? `zombie noticed in ${seconds(endedAt!)}`
        : `zombie kept > ${seconds(target.zombieWindowMs)}`,
      series: [
        {
          id: 'target-zombie',
          title: 'Connection held by the service after the client vanished',
          xLabel: 'ms after the blackhole',
          yLabel: 'active',
          kind: 'line',
          lines: [{ name: 'ws_connections_active', points }],
        },
      ],
      data: { endedAtMs: endedAt, pings, closeCode: closeFrame ?? record?.close_code ?? null },
      service: {
        did,
        change: noticed
          ? null
          : pings > 0
            ? 'close the connection when a pong does not come back within a timeout (Python websockets ping_timeout; Node ws: terminate() when the previous ping is unanswered)'
            : HEARTBEAT_FIX,
      },
    };
  },
};
