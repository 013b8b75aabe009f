/**
 * Frame-level faults from the sidecar's fault API, against the service:
 * - drop-pongs toward the service: its heartbeat must notice a client whose pongs never arrive
 *   (on engine.io, whose heartbeat is messages, a stall toward the service does the same);
 * - cut (TCP reset, 1006): a client that reconnects at once must get its 101;
 * - truncate a frame toward the service, then reset: the service must keep serving.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check } from '../drills/types.js';
import { sleep, toWs, track } from '../drills/util.js';
import type { TargetDrill } from './types.js';
import { HEARTBEAT_FIX, isEngineIo, openClient, seconds } from './util.js';

export const drill: TargetDrill = {
  name: 'frame-faults',
  title: 'Frame-level faults: dropped pongs, a reset, a truncated frame',
  async run(env, target, { log }) {
    const sidecar = await env.sidecar(target.address, { faults: true });
    const outcomes: string[] = [];
    const problems: string[] = [];

    // 1. Pongs toward the service vanish.
    const a = openClient(sidecar.url, target);
    if (!(await a.opened)) throw new Error(`no 101 (status ${a.status})`);
    const eio = isEngineIo(target);
    const what = eio ? 'client→service stalled' : 'pongs dropped';
    await sidecar.fault!({
      action: eio ? 'stall' : 'drop-pongs',
      direction: 'backend',
      match: { live: true },
    });
    const t0 = performance.now();
    await Promise.race([a.closed, sleep(target.zombieWindowMs)]);
    const pingsSeen = a.pings.length;
    const dropClosed = a.closedAt !== null;
    a.ws.terminate();
    if (dropClosed)
      outcomes.push(
        `${what} → it closed the connection after ${seconds(a.closedAt! - t0)} (close ${a.closeCode})`,
      );
    else {
      outcomes.push(
        `${what} → still open after ${seconds(target.zombieWindowMs)} (${pingsSeen} ping(s) sent)`,
      );
      problems.push(pingsSeen > 0 ? 'close a connection whose pong does not come back' : HEARTBEAT_FIX);
    }

    // 2. A reset, and an immediate reconnect.
    const b = openClient(sidecar.url, target);
    if (!(await b.opened)) throw new Error(`no 101 (status ${b.status})`);
    await sidecar.fault!({ action: 'cut', match: { live: true }, duration: '100ms' });
    await b.closed;
    const r0 = performance.now();
    const again = track(toWs(sidecar.url, target.wsPath));
    const reOk = await again.opened;
    const reMs = performance.now() - r0;
    again.ws.terminate();
    if (reOk) outcomes.push(`reset (1006) → the reconnect got its 101 in ${Math.round(reMs)} ms`);
    else {
      outcomes.push(`reset (1006) → the reconnect failed (status ${again.status})`);
      problems.push('accept a client again right after its connection was reset');
    }

    // 3. A frame toward the service cut in the middle, then a reset.
    await sleep(150);
    await sidecar.fault!({ action: 'truncate', direction: 'backend', duration: '5s' });
    const c = openClient(sidecar.url, target);
    if (!(await c.opened)) throw new Error(`no 101 (status ${c.status})`);
    c.ws.send(target.message ?? 'socketlens truncated frame');
    await Promise.race([c.closed, sleep(3000)]);
    await sleep(200);
    const d = track(toWs(sidecar.url, target.wsPath));
    const dOk = await d.opened;
    d.ws.terminate();
    c.ws.terminate();
    const truncations = (await sidecar.closeLog()).filter((r) => r.reason === 'fault_truncate').length;
    if (dOk) outcomes.push('truncated frame + reset → still serving new connections');
    else {
      outcomes.push(`truncated frame + reset → a new connection failed (status ${d.status})`);
      problems.push('survive a peer that sends half a frame and resets');
    }
    log(outcomes.join('; '));
    const hits = await sidecar.metric(METRICS.faultHits.name);
    return {
      symptom: check(true, 'drop-pongs, cut and truncate injected by the sidecar'),
      detected: check(
        hits >= 3,
        `${METRICS.faultHits.name} = ${hits}; ${truncations} connection logged fault_truncate`,
      ),
      mitigated: check(problems.length === 0, outcomes.join('; ')),
      figure: `${3 - problems.length}/3 handled`,
      series: [],
      data: { outcomes },
      service: { did: outcomes.join('; '), change: problems.length ? problems.join('; ') : null },
    };
  },
};
