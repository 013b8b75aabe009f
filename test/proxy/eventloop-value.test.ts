import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { SidecarMetrics } from '../../proxy/metrics/registry.js';

test('value() of an event-loop delay gauge is what a scrape gives, and starts a new window like one', async () => {
  const metrics = new SidecarMetrics();
  await metrics.value(METRICS.eventLoopLagMax.name); // a fresh window
  await sleep(30);
  const end = performance.now() + 80;
  while (performance.now() < end); // hold the loop for 80 ms
  await sleep(30);
  const held = await metrics.value(METRICS.eventLoopLagMax.name);
  // One sample spans the 80 ms hold (plus up to the 10 ms sampling interval and timer slack).
  assert.ok(held >= 0.08 && held < 0.5, `max after an 80 ms hold: ${held} s`);
  const next = await metrics.value(METRICS.eventLoopLagMax.name);
  assert.ok(next < 0.08, `the next read covers only the time since the last one: ${next} s`);
});
