/**
 * Slow handshakes: Toxiproxy adds 1.5 s of latency between the sidecar and the backend, as an
 * overloaded backend (or auth step) would. Clients wait that long for their 101; the sidecar's
 * handshake histogram shows it (the HandshakeSlow alert reads its p99). With the sidecar's
 * handshake timeout below the delay, clients get a fast 504 instead of hanging, and the
 * failures are counted with reason="timeout".
 *
 * The bound is the mechanism's, not the machine's: each refusal's duration on the sidecar's own
 * clock (its close record) lies between the handshake timeout and the backend's delay, so the
 * sidecar's timer, not the backend, ended it, and every client got that 504. Any wall-clock bound
 * on the client's side measured the machine instead: under compose on a loaded host the 504s
 * reached the clients after 1.9 s once, and after 3.4–4.2 s another time, while the sidecar had
 * refused them after 803–1069 ms (load 25–33), later than the unbounded round's 101s (1.7 s).
 */
import { humanDuration } from '../../proxy/config/units.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { LabEnvironment } from '../env/types.js';
import { check, type Drill } from './types.js';
import { toWs, track } from './util.js';

const DELAY_MS = 1500;
const CLIENTS = 5;
const TIMEOUT_MS = 800;

async function connectAll(env: LabEnvironment, handshakeTimeout?: number) {
  const backend = await env.backend({ nodeId: 'node-1' });
  const link = await env.faultLink(
    handshakeTimeout ? 'slow_backend_timeout' : 'slow_backend',
    backend.address,
  );
  await link.addToxic({ type: 'latency', attributes: { latency: DELAY_MS, jitter: 0 }, stream: 'upstream' });
  const sidecar = await env.sidecar(link.address, handshakeTimeout ? { handshakeTimeout } : {});
  const t0 = performance.now();
  const clients = Array.from({ length: CLIENTS }, () =>
    track(toWs(sidecar.url, '/ws'), { timeoutMs: 10_000 }),
  );
  const waits = await Promise.all(
    clients.map(async (c) => {
      const ok = await c.opened;
      return { ok, status: c.status, ms: Math.round(performance.now() - t0) };
    }),
  );
  const slow = await sidecar.metric(`${METRICS.handshakeDuration.name}_count`);
  const fast = await sidecar.metric(`${METRICS.handshakeDuration.name}_bucket`, { le: '1000' });
  const timeouts = await sidecar.metric(METRICS.handshakeFailures.name, { reason: 'timeout' });
  for (const c of clients) c.ws.terminate();
  // How long the sidecar held each refused upgrade, from its own close records.
  const refusedMs = (await sidecar.closeLog())
    .filter((r) => r.reason === 'timeout' && r.status === 504)
    .map((r) => r.duration_ms)
    .sort((a, b) => a - b);
  return { waits, observed: slow, underOneSecond: fast, timeouts, refusedMs };
}

export const drill: Drill = {
  name: 'slow-handshake',
  title: 'Slow handshakes behind a saturated backend',
  // Under compose, two rounds of a backend, a link and a sidecar.
  timeoutMs: 120_000,
  async run(env, { log }) {
    const slow = await connectAll(env);
    log(
      `slow backend: each client waited ${slow.waits.map((w) => humanDuration(w.ms)).join(', ')} for its handshake`,
    );
    await env.releaseAll();
    const bounded = await connectAll(env, TIMEOUT_MS);
    log(
      `with a ${humanDuration(TIMEOUT_MS)} handshake timeout: ${bounded.waits.map((w) => `${w.ok ? 'connected' : w.status ? `answered ${w.status}` : 'failed'} after ${humanDuration(w.ms)}`).join(', ')}`,
    );
    const slowest = Math.max(...bounded.waits.map((w) => w.ms));
    const fastestSlow = Math.min(...slow.waits.map((w) => w.ms));
    const refused = bounded.refusedMs;
    return {
      symptom: check(
        slow.waits.every((w) => w.ok && w.ms >= DELAY_MS),
        `${CLIENTS} clients waited ${Math.min(...slow.waits.map((w) => w.ms))}–${Math.max(...slow.waits.map((w) => w.ms))} ms for their 101 (backend delay ${DELAY_MS} ms)`,
      ),
      detected: check(
        slow.observed === CLIENTS && slow.underOneSecond === 0,
        `${METRICS.handshakeDuration.name}: ${slow.observed} handshakes, ${slow.underOneSecond} under 1000 ms`,
      ),
      mitigated: check(
        bounded.waits.every((w) => !w.ok && w.status === 504) &&
          bounded.timeouts === CLIENTS &&
          refused.length === CLIENTS &&
          refused.every((ms) => ms >= TIMEOUT_MS && ms < DELAY_MS),
        `--handshake-timeout ${TIMEOUT_MS}ms: ${CLIENTS} clients answered 504 within ${slowest} ms (unbounded: 101 after ${fastestSlow} ms at the soonest); the sidecar refused after ${refused.length ? `${refused[0]}–${refused[refused.length - 1]}` : '–'} ms (bound [${TIMEOUT_MS}, ${DELAY_MS}) ms); ${METRICS.handshakeFailures.name}{reason="timeout"} = ${bounded.timeouts}`,
      ),
      figure: `101 after ${(Math.max(...slow.waits.map((w) => w.ms)) / 1000).toFixed(1)} s → 504 in ${(slowest / 1000).toFixed(1)} s`,
      series: [],
      data: { slow, bounded, delayMs: DELAY_MS, timeoutMs: TIMEOUT_MS },
    };
  },
};
