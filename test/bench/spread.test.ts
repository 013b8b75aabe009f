// The bench report's latency spread: added latency per round against direct of the same round,
// and how many rounds each target was at most nginx's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeSpread, type RunRecord, renderSpread } from '../../bench/report.js';

const lat = (round: number, target: string, p99Us: number, p999Us: number): RunRecord => ({
  round,
  target,
  workload: 'latency',
  metrics: { p50Us: 100, p99Us, p999Us },
});

test('spread: per-round added latency, rounds at most nginx, min / median / max', () => {
  const records: RunRecord[] = [
    lat(0, 'direct', 500, 1000),
    lat(0, 'sidecar', 900, 2500),
    lat(0, 'nginx', 1000, 2000),
    lat(1, 'direct', 600, 1200),
    lat(1, 'sidecar', 1800, 3000),
    lat(1, 'nginx', 1100, 4200),
    // A round without direct cannot be judged and is left out.
    lat(2, 'sidecar', 1, 1),
    lat(2, 'nginx', 9, 9),
    { round: 3, target: 'direct', workload: 'latency', metrics: {}, error: 'boom' },
    { round: 0, target: 'sidecar', workload: 'echo', metrics: { p99Us: 5 } },
  ];
  const spread = computeSpread(records);
  assert.deepEqual(spread, {
    sidecar: { p99: [400, 1200], p999: [1500, 1800], p99AtMostNginx: 1, p999AtMostNginx: 1 },
    nginx: { p99: [500, 500], p999: [1000, 3000], p99AtMostNginx: 2, p999AtMostNginx: 2 },
  });
  const text = renderSpread(spread, ['direct', 'sidecar', 'nginx']).join('\n');
  assert.match(
    text,
    /\| sidecar \|\s+2 \|\s+400 \/ 800 \/ 1,200 \|\s+1,500 \/ 1,650 \/ 1,800 \|\s+1\/2 \|\s+1\/2 \|/,
  );
  assert.match(
    text,
    /\| nginx\s+\|\s+2 \|\s+500 \/ 500 \/ 500 \|\s+1,000 \/ 2,000 \/ 3,000 \|\s+– \|\s+– \|/,
  );
  assert.deepEqual(renderSpread({}, ['sidecar']), []);
});
