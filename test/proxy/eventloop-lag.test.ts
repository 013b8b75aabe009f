import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import { SidecarMetrics } from '../../proxy/metrics/registry.js';

/** Keeps the event loop busy for `ms` milliseconds. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('event-loop delay in the exposition', () => {
  it('reports the delay percentiles of the contract, each scrape covering the time since the previous one', async () => {
    const m = new SidecarMetrics();
    const names = [
      METRICS.eventLoopLagP50,
      METRICS.eventLoopLagP90,
      METRICS.eventLoopLagP99,
      METRICS.eventLoopLagMax,
    ].map((d) => d.name);
    await m.exposition(); // opens a fresh window
    await sleep(50);
    block(120);
    await sleep(30);
    const stalled = await m.exposition();
    for (const n of names) assert.notEqual(sumSamples(stalled, n), null, `${n} is exported`);
    assert.ok(sumSamples(stalled, METRICS.eventLoopLagMax.name)! >= 0.1, stalled);

    await sleep(60);
    const calm = await m.exposition();
    // The 120 ms stall belongs to the previous window.
    assert.ok(sumSamples(calm, METRICS.eventLoopLagMax.name)! < 0.1, calm);
  });
});
