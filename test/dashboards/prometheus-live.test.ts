// The dashboards and alerts against a real Prometheus (Debian's prometheus) scraping the native
// lab's sidecars while the drills run:
//   1. every panel query returns at least one series over the run (query_range, as Grafana asks);
//   2. every alert of the rules file went pending or firing while the drill its runbook names ran;
//   3. every metric name the dashboards and rules read is in the sidecar's registry.
// The drills' own checks are not asserted here (reconnect-storm runs for its metrics only).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricNamesIn } from '../../dashboards/src/metric-refs.js';
import { PROTOCOLS_UID } from '../../dashboards/src/protocols.js';
import { listPanelQueries } from '../../dashboards/src/queries.js';
import { NativeEnvironment } from '../../lab/env/native.js';
import { type AlertWatch, watchAlerts } from '../../lab/env/prometheus-watch.js';
import { runLab } from '../../lab/lab.js';
import type { PrometheusServer } from '../../lab/runner/components/prometheus.js';
import { SidecarMetrics } from '../../proxy/metrics/registry.js';
import { allRules } from './rules-file.js';

// Every drill a runbook names, plus fallback-ladder (SSE and long-poll panels). The rules
// aggregate over the whole fleet with 1m windows, so the storm's ~1000 upgrades would dilute the
// 3 rejected upgrades of rejected-upgrade below 20% if it ran within a minute before: it runs after
// rejected-upgrade, and the rolling deploy (which raises SocketlensDraining) after it. The
// Socket.IO drill last: its stripped upgrades would count as handshake failures for the others.
const RUN = [
  'upgrade-stripped',
  'half-open',
  'idle-timeout',
  'slow-consumer',
  'slow-handshake',
  'rejected-upgrade',
  'fallback-ladder',
  'reconnect-storm',
  'rolling-deploy',
  'socketio-upgrade',
];
// After each drill (whose releaseAll already waited for two more scrapes), the rules get this
// long to evaluate those samples while the watcher still credits the drill.
const SETTLE_MS = 2000;

const rules = allRules();
const RECORDED = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const ALERT_DRILL = new Map(
  rules.flatMap((r) => {
    if (!r.alert) return [];
    const m = /--drill (\S+)/.exec(r.annotations?.runbook ?? '');
    return [[r.alert, m?.[1] ?? '(no drill in runbook)'] as const];
  }),
);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('dashboards and alerts on a live Prometheus during the drills', { timeout: 480_000 }, () => {
  let env: NativeEnvironment;
  let prom: PrometheusServer;
  let watch: AlertWatch | undefined;
  let start = 0;
  let end = 0;
  const outcomes: string[] = [];

  before(async () => {
    const t0 = performance.now();
    env = new NativeEnvironment({ prometheus: true });
    prom = await env.prometheus();
    watch = watchAlerts(prom, 500);
    start = Math.floor(Date.now() / 1000) - 1;
    for (const name of RUN) {
      watch.phase(name);
      const { report } = await runLab({ drills: [name], env, reportDir: null, progress: () => {} });
      await sleep(SETTLE_MS);
      const d = report.drills[0]!;
      const marks = [d.symptom, d.detected, d.mitigated].map((c) => (c.ok ? '✓' : '✗')).join('');
      outcomes.push(`${name} ${marks} ${d.figure} (${((d.durationsMs[0] ?? 0) / 1000).toFixed(1)} s)`);
    }
    watch.phase('(after the drills)');
    end = Math.ceil(Date.now() / 1000) + 1;
    await watch.stop();
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    process.stderr.write(`[prometheus-live] drills in ${seconds} s:\n  ${outcomes.join('\n  ')}\n`);
  });

  after(async () => {
    await watch?.stop();
    await env?.close();
  });

  test('every panel query returns at least one series over the run', async () => {
    // The protocols board reads what the decoders see of Socket.IO, graphql-ws and SSE apps the
    // drills do not all run: protocols-prometheus.test.ts drives those apps through a sidecar.
    const queries = listPanelQueries().filter((q) => q.dashboard !== PROTOCOLS_UID);
    assert.equal(queries.length, 62);
    const empty: string[] = [];
    for (const q of queries) {
      const series = await prom.queryRange(q.expr, start, end, 1);
      if (series.length === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
    }
    assert.deepEqual(empty, []);
  });

  test("every alert went pending or firing during its runbook's drill", () => {
    assert.equal(ALERT_DRILL.size, 10);
    assert.deepEqual(watch!.errors().count, 0, `alerts API errors: ${watch!.errors().last}`);
    const seen = watch!.seen();
    const report = (alert: string) => {
      const s = seen.get(alert);
      return s ? `${[...s.states].sort().join('+')} during ${[...s.phases].join(', ')}` : 'never active';
    };
    const missed = [...ALERT_DRILL]
      .filter(([alert, drill]) => !seen.get(alert)?.phases.has(drill))
      .map(([alert, drill]) => `${alert} (runbook: ${drill}): ${report(alert)}`);
    process.stderr.write(
      `[prometheus-live] alerts:\n  ${[...ALERT_DRILL.keys()].map((a) => `${a}: ${report(a)}`).join('\n  ')}\n`,
    );
    assert.deepEqual(missed, []);
  });

  test("every metric name of the dashboards and rules is in the sidecar's registry", async () => {
    const metrics = new SidecarMetrics({ defaultMetrics: false });
    const registered = new Set(
      (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const used = new Set([
      ...listPanelQueries().flatMap((q) => metricNamesIn(q.expr)),
      ...rules.flatMap((r) => metricNamesIn(r.expr)),
    ]);
    const unknown = [...used].filter((n) => !registered.has(n) && !RECORDED.has(n)).sort();
    assert.deepEqual(unknown, []);
    assert.ok(used.size >= 10, `only ${used.size} names used`);
  });
});
