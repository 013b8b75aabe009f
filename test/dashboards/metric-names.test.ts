// Every metric name read by the dashboards and the rules exists in the metric contract (or is a
// recording rule of the rules file).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRICS, seriesNames } from '../../proxy/metrics/definitions.js';
import { metricNamesIn } from '../../dashboards/src/metric-refs.js';
import { listPanelQueries } from '../../dashboards/src/queries.js';
import { allRules } from './rules-file.js';

const CONTRACT = new Set(Object.values(METRICS).flatMap((m) => seriesNames(m)));
const rules = allRules();
const RECORDED = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

describe('metricNamesIn', () => {
  test('keeps metric names, drops functions, labels, windows, keywords and numbers', () => {
    assert.deepEqual(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le) (rate(ws_handshake_duration_ms_bucket{job="x", le!="1"}[1m]))) > 1e3',
      ),
      ['ws_handshake_duration_ms_bucket'],
    );
    assert.deepEqual(
      metricNamesIn(
        'a:b:c and on() (x_total unless x_total offset 1m) or sum without (code) (y_total) > bool 2 or vector(0)',
      ),
      ['a:b:c', 'x_total', 'y_total'],
    );
    assert.deepEqual(metricNamesIn('avg_over_time((sum(rate(z_total[$__rate_interval])))[30m:])'), [
      'z_total',
    ]);
    assert.deepEqual(metricNamesIn('count_values("not_a_metric", up)'), ['up']);
  });
});

describe('names used by the dashboards', () => {
  const queries = listPanelQueries();

  test('every query reads at least one metric', () => {
    for (const q of queries) assert.ok(metricNamesIn(q.expr).length > 0, `${q.panel}: ${q.expr}`);
  });

  test('all exist in the metric contract', () => {
    const unknown = queries.flatMap((q) =>
      metricNamesIn(q.expr)
        .filter((n) => !CONTRACT.has(n))
        .map((n) => `${q.dashboard} / ${q.panel}: ${n}`),
    );
    assert.deepEqual(unknown, []);
  });
});

describe('names used by the rules', () => {
  test('recording rules follow level:metric:operation', () => {
    for (const name of RECORDED) assert.match(name, /^socketlens:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  test('every rule reads at least one metric', () => {
    for (const r of rules) assert.ok(metricNamesIn(r.expr).length > 0, r.record ?? r.alert);
  });

  test('all exist in the metric contract or are recorded by the file', () => {
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr)
        .filter((n) => !CONTRACT.has(n) && !RECORDED.has(n))
        .map((n) => `${r.record ?? r.alert}: ${n}`),
    );
    assert.deepEqual(unknown, []);
  });

  test('recording rules are defined before the rules that read them', () => {
    const seen = new Set<string>();
    for (const r of rules) {
      for (const n of metricNamesIn(r.expr)) {
        if (RECORDED.has(n))
          assert.ok(seen.has(n), `${r.record ?? r.alert} reads ${n} before it is recorded`);
      }
      if (r.record) seen.add(r.record);
    }
  });
});
