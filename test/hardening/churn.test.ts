/**
 * CI-sized churn: 2,000 connect/message/close cycles (clean closes, resets from either side,
 * handshake and request timeouts) through a sidecar child process. Afterwards every cycle is in
 * the close log with the reason its fault implies, no connection is active, and the sidecar's
 * fds are back at their baseline and its RSS near it. The long version is long/soak.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/raw.js';
import { type SidecarChild, spawnSidecar } from '../helpers/sidecar-child.js';
import { type ChurnStats, type CycleKind, expectedReasons, OPENS, runChurn } from './lib/churn.js';
import { type FaultBackend, startFaultBackend } from './lib/fault-backend.js';

const SIDECAR_ARGS = ['--handshake-timeout', '1s', '--request-timeout', '500ms'];
const MiB = 1024 * 1024;

function add(into: Record<CycleKind, number>, from: Record<CycleKind, number>): void {
  for (const k of Object.keys(from) as CycleKind[]) into[k] = (into[k] ?? 0) + from[k];
}

describe('churn: 2,000 cycles through a sidecar child process', () => {
  let backend: FaultBackend;
  let sc: SidecarChild;
  before(async () => {
    backend = await startFaultBackend();
    sc = await spawnSidecar(backend.port, { args: SIDECAR_ARGS });
  });
  after(async () => {
    await sc.stop();
    await backend.close();
  });

  it('returns to zero active connections and to its fd baseline, with every close accounted for', async () => {
    const total = {} as Record<CycleKind, number>;
    const settle = async (stats: ChurnStats) => {
      assert.deepEqual(stats.failures, []);
      add(total, stats.byKind);
      const want = expectedReasons(total);
      const lines = [...want.values()].reduce((a, b) => a + b, 0);
      await waitUntil(
        () => sc.logCount() === lines,
        10_000,
        `${lines} close-log lines (have ${sc.logCount()})`,
      );
      await waitUntil(() => backend.openSockets() === 0, 10_000, 'backend sockets closed');
      assert.deepEqual(new Map([...sc.reasons].sort()), new Map([...want].sort()));
    };

    // Warm-up, so lazy allocations and JIT are done before the baseline.
    await settle(await runChurn({ port: sc.port, cycles: 300, concurrency: 50, seed: 7 }));
    const baseFds = await sc.baselineFds();
    const baseRss = sc.rssBytes();

    let peakRss = baseRss;
    let peakFds = baseFds;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, sc.rssBytes());
      peakFds = Math.max(peakFds, sc.fds());
    }, 50);
    let stats: ChurnStats;
    try {
      stats = await runChurn({
        port: sc.port,
        cycles: 2000,
        concurrency: 100,
        sourceAddresses: 20,
        seed: 42,
      });
    } finally {
      clearInterval(sampler);
    }
    await settle(stats);
    assert.equal(stats.ok, 2000);

    const opened = (Object.keys(total) as CycleKind[])
      .filter((k) => OPENS.has(k))
      .reduce((s, k) => s + total[k], 0);
    assert.equal(await sc.metric('ws_connections_active'), 0);
    assert.equal(await sc.metric('ws_connections_opened_total'), opened);
    assert.equal(await sc.metric('ws_close_total'), opened);
    assert.equal(
      await sc.metric('ws_handshake_failures_total', { reason: 'timeout' }),
      total.handshake_timeout,
    );
    assert.equal(
      await sc.metric('socketlens_client_errors_total', { reason: 'timeout' }),
      total.request_timeout,
    );

    const finalFds = await sc.baselineFds();
    const finalRss = sc.rssBytes();
    assert.equal(finalFds, baseFds);
    assert.ok(peakFds > baseFds + 100, `peak fds ${peakFds}: the run did hold connections at once`);
    assert.ok(finalRss < baseRss + 40 * MiB, `RSS ${finalRss / MiB} MiB vs baseline ${baseRss / MiB} MiB`);
    process.stderr.write(
      `churn: ${stats.ok} cycles in ${Math.round(stats.elapsedMs)} ms (${Math.round((stats.ok / stats.elapsedMs) * 1000)}/s); ` +
        `fds ${baseFds} -> peak ${peakFds} -> ${finalFds}; RSS ${(baseRss / MiB).toFixed(1)} -> peak ${(peakRss / MiB).toFixed(1)} -> ${(finalRss / MiB).toFixed(1)} MiB\n`,
    );
  });
});
