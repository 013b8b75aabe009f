/**
 * Idle disconnect at the edge: HAProxy with a short `timeout tunnel` stands for an ALB or an nginx
 * proxy_read_timeout. The client stays quiet (it only answers pings, as browsers do). Only the
 * service's own heartbeat can keep the connection alive through the hop.
 */
import { check } from '../drills/types.js';
import { sleep } from '../drills/util.js';
import type { TargetDrill } from './types.js';
import { HEARTBEAT_FIX, medianGap, openClient, seconds } from './util.js';

export const drill: TargetDrill = {
  name: 'idle-timeout',
  title: "Idle disconnect at the edge, against the service's own heartbeat",
  async run(env, target, { log }) {
    const T = target.idleTimeoutMs;
    const sidecar = await env.sidecar(target.address);
    const hop = await env.hop(sidecar.address, T);
    const client = openClient(hop.url, target);
    if (!(await client.opened)) throw new Error(`no 101 through the hop (status ${client.status})`);
    const openedAt = client.openedAt!;
    await Promise.race([client.closed, sleep(3 * T)]);
    const cutAfter = client.closedAt === null ? null : client.closedAt - openedAt;
    const gap = medianGap(client.pings);
    const pings = client.pings.length;
    client.ws.terminate();
    log(`cut=${cutAfter === null ? 'no' : Math.round(cutAfter)} pings=${pings} gap=${gap}`);
    const survived = cutAfter === null;
    const every = gap !== null ? `every ${seconds(gap)}` : pings === 1 ? 'once' : '';
    const did = survived
      ? `its pings (${pings}, ${every}) kept a quiet connection open through a ${seconds(T)} idle hop for ${seconds(3 * T)}`
      : `a quiet connection was cut by the hop after ${seconds(cutAfter!)} (close ${client.closeCode}); it sent ${pings === 0 ? 'no ping' : `${pings} ping(s) ${every}`} in that time`;
    return {
      symptom: check(true, `HAProxy hop with timeout tunnel ${T} ms; the client sends nothing`),
      detected: check(
        true,
        survived ? 'no cut' : `client closed with ${client.closeCode} after ${Math.round(cutAfter!)} ms`,
      ),
      mitigated: check(survived, did),
      figure: survived
        ? `survived 3×${seconds(T)}${gap ? `, pings every ${seconds(gap)}` : ''}`
        : `cut at ${seconds(cutAfter!)}`,
      series: [],
      data: { idleTimeoutMs: T, cutAfterMs: cutAfter, pings, pingGapMs: gap },
      service: {
        did,
        change: survived
          ? null
          : pings > 0
            ? `ping more often than the shortest idle timeout on the path (here ${seconds(T)}; AWS ALB and nginx proxy_read_timeout default to 60 s): at most half of it`
            : HEARTBEAT_FIX,
      },
    };
  },
};
