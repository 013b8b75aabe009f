/**
 * A reconnect storm against the service: N clients are connected through the sidecar, the
 * sidecar cuts them all at once (as a load balancer restart does), and every client reconnects at
 * once, with no backoff (the worst client). Measured: the service's handshake latency during the
 * storm against a quiet baseline, and the upgrades that failed.
 */
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check } from '../drills/types.js';
import { histogramPoints, peakPerWindow, sleep, toWs, track } from '../drills/util.js';
import type { TargetDrill } from './types.js';
import { percentile } from './util.js';

const CLIENTS = 200;
/** Over this, typical clients give up on the handshake and retry, feeding the storm. */
const P99_BOUND_MS = 5000;

async function handshake(
  url: string,
  localAddress?: string,
): Promise<{ ms: number; ok: boolean; status: number | null }> {
  const t0 = performance.now();
  const t = track(url, { localAddress, timeoutMs: 10_000 });
  const ok = await t.opened;
  const ms = performance.now() - t0;
  if (ok) t.ws.terminate();
  return { ms, ok, status: t.status };
}

export const drill: TargetDrill = {
  name: 'reconnect-storm',
  title: 'Reconnect storm against the service',
  async run(env, target, { log }) {
    const sidecar = await env.sidecar(target.address, { faults: true });
    const url = toWs(sidecar.url, target.wsPath);
    const baseline: number[] = [];
    for (let i = 0; i < 10; i++) {
      const h = await handshake(url);
      if (!h.ok) throw new Error(`baseline handshake failed (status ${h.status})`);
      baseline.push(h.ms);
    }
    const addrs = env.clientAddresses(8);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const t = track(url, { localAddress: addrs[i % addrs.length], timeoutMs: 10_000 });
        await t.opened;
        return t;
      }),
    );
    const connected = clients.filter((c) => c.openedAt !== null).length;
    await sleep(200);
    const opened0 = await sidecar.metric(METRICS.connectionsOpened.name);
    await sidecar.fault!({ action: 'cut', match: { live: true }, duration: '200ms' });
    await Promise.all(clients.map((c) => c.closed));
    await sleep(250);
    const t0 = performance.now();
    const storm = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => handshake(url, addrs[i % addrs.length])),
    );
    const okMs = storm.filter((s) => s.ok).map((s) => s.ms);
    const failed = storm.filter((s) => !s.ok);
    const reopened = (await sidecar.metric(METRICS.connectionsOpened.name)) - opened0;
    const p50 = percentile(okMs, 50);
    const p99 = percentile(okMs, 99);
    const base = percentile(baseline, 50);
    const peak = peakPerWindow(
      okMs.map((ms) => t0 + ms),
      100,
    );
    log(
      `connected=${connected} ok=${okMs.length} failed=${failed.length} p50=${p50.toFixed(0)} p99=${p99.toFixed(0)} base=${base.toFixed(1)}`,
    );
    const statuses = [...new Set(failed.map((f) => f.status ?? 'no answer'))].join(', ');
    const fine = failed.length === 0 && p99 <= P99_BOUND_MS;
    const did = `${okMs.length}/${CLIENTS} reconnected at once; handshake p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (quiet baseline ${base.toFixed(1)} ms; bound ${P99_BOUND_MS} ms, where clients start to time out)${failed.length ? `; ${failed.length} upgrades failed (${statuses})` : ''}`;
    return {
      symptom: check(
        connected === CLIENTS,
        `${connected}/${CLIENTS} connected, then cut at once by the sidecar`,
      ),
      detected: check(
        reopened >= okMs.length,
        `${METRICS.connectionsOpened.name} +${reopened}; peak ${peak} handshakes per 100 ms`,
      ),
      mitigated: check(fine, did),
      figure: `p99 ${p99.toFixed(0)} ms, ${failed.length} failed`,
      series: [
        {
          id: 'target-storm',
          title: 'Handshakes completed per 100 ms during the storm',
          xLabel: 'ms',
          yLabel: 'handshakes',
          kind: 'bars',
          lines: [{ name: 'no backoff', points: histogramPoints(okMs, 0, Math.max(...okMs, 100), 100) }],
        },
      ],
      data: { baselineMs: baseline, stormMs: okMs, failed: failed.length },
      service: {
        did,
        change: fine
          ? null
          : 'spread reconnects: clients use full-jitter exponential backoff (e.g. base 1 s, cap 30 s) and honour Retry-After; limit the upgrade rate in front of the service (socketlens --upgrade-rate with 429 + Retry-After) and raise its accept backlog',
      },
    };
  },
};
