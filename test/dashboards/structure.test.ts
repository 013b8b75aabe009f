// The shape of the committed boards: data source variable, no hard-coded data source, one row
// per failure mode, and the panels the overview promises.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FAILURE_MODES, METRICS } from '../../proxy/metrics/definitions.js';
import { BOARDS, repoRoot } from '../../dashboards/src/boards.js';

// biome-ignore lint/suspicious/noExplicitAny: committed JSON, walked generically
type Json = any;

/** The fleet selector every series carries. */
const FLEET = '{job=~"$job", instance=~"$instance"}';

const ROOT = repoRoot();
const load = (file: string): Json => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
const overview = load('dashboards/overview.json');
const failureModes = load('dashboards/failure-modes.json');
const boards: [string, Json][] = BOARDS.map((b) => [b.file, load(b.file)]);

/** Every panel that is not a row, in layout order. */
function panels(d: Json): Json[] {
  return d.panels.flatMap((p: Json) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

function panel(d: Json, title: string): Json {
  const found = panels(d).filter((p) => p.title === title);
  assert.equal(found.length, 1, `one panel titled ${title}`);
  return found[0];
}

/** Every `datasource` member anywhere in the document. */
function datasourceRefs(node: Json, path = '$', out: [string, Json][] = []): [string, Json][] {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) datasourceRefs(v, `${path}[${i}]`, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'datasource') out.push([`${path}.${k}`, v]);
      datasourceRefs(v, `${path}.${k}`, out);
    }
  }
  return out;
}

/** Rows in order, each with the panels that follow it. */
function rows(d: Json): { title: string; panels: Json[] }[] {
  const out: { title: string; panels: Json[] }[] = [];
  for (const p of d.panels) {
    if (p.type === 'row') out.push({ title: p.title, panels: [...(p.panels ?? [])] });
    else out.at(-1)?.panels.push(p);
  }
  return out;
}

describe('both boards', () => {
  test('have our own stable uids', () => {
    assert.deepEqual(
      boards.map(([, d]) => d.uid),
      ['socketlens-overview', 'socketlens-failure-modes', 'socketlens-protocols'],
    );
  });

  for (const [file, d] of boards) {
    test(`${file}: current schema and a prometheus data source variable named datasource`, () => {
      assert.equal(d.schemaVersion, 42);
      const vars = d.templating.list.filter((v: Json) => v.type === 'datasource');
      assert.equal(vars.length, 1);
      assert.equal(vars[0].name, 'datasource');
      assert.equal(vars[0].query, 'prometheus');
    });

    test(`${file}: every panel and every query uses \${datasource}, nothing else`, () => {
      const refs = datasourceRefs(d);
      const queryVariables = d.templating.list.filter((v: Json) => v.type === 'query').length;
      const expected = panels(d).reduce((n, p) => n + 1 + p.targets.length, 0) + queryVariables;
      assert.equal(refs.length, expected);
      for (const [path, ref] of refs) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, meant literally
        assert.deepEqual(ref, { type: 'prometheus', uid: '${datasource}' }, path);
      }
    });

    test(`${file}: job and instance variables (multi, All = .+), used by every series of every query`, () => {
      const vars = d.templating.list.filter((v: Json) => v.type === 'query');
      assert.deepEqual(
        vars.map((v: Json) => [v.name, v.definition, v.multi, v.includeAll, v.allValue]),
        [
          ['job', 'label_values(ws_connections_active, job)', true, true, '.+'],
          ['instance', 'label_values(ws_connections_active{job=~"$job"}, instance)', true, true, '.+'],
        ],
      );
      for (const p of panels(d))
        for (const t of p.targets) {
          // Every metric name followed by a selector, and every selector starting with the fleet.
          const names = [
            ...(t.expr as string).matchAll(/\b([a-z_]+_(?:total|bucket|active|bytes|remaining))\b(.?)/g),
          ];
          assert.ok(names.length > 0, t.expr);
          for (const [, name, next] of names) assert.equal(next, '{', `${p.title}: ${name} without selector`);
          const selectors = [...(t.expr as string).matchAll(/\{([^}]*)\}/g)]
            .map((m) => m[1])
            .filter((x) => !x.startsWith('{'));
          for (const sel of selectors.filter((x) => x.includes('=')))
            assert.ok(sel.startsWith('job=~"$job", instance=~"$instance"'), `${p.title}: ${sel}`);
        }
    });

    test(`${file}: every panel states its unit; rates are per second, sizes bytes, durations s or ms`, () => {
      for (const p of panels(d)) {
        const unit = p.type === 'heatmap' ? p.options.yAxis.unit : p.fieldConfig.defaults.unit;
        assert.ok(
          ['short', 'cps', 'ops', 'reqps', 'mps', 'Bps', 'bytes', 's', 'ms', 'percentunit'].includes(unit),
          `${p.title}: unit ${unit}`,
        );
        const exprs = p.targets.map((t: Json) => t.expr as string).join(' ');
        if (/^sum( by \([^)]*\))? \(rate\(/.test(exprs) && !exprs.includes('/'))
          assert.ok(['cps', 'ops', 'reqps', 'mps', 'Bps'].includes(unit), `${p.title}: a rate in ${unit}`);
      }
    });

    test(`${file}: every panel has a description, queries and a unique id`, () => {
      const ids = d.panels.map((p: Json) => p.id);
      assert.equal(new Set(ids).size, ids.length);
      for (const p of panels(d)) {
        assert.ok(typeof p.description === 'string' && p.description.length > 40, `${p.title}: description`);
        assert.ok(p.targets.length > 0, `${p.title}: targets`);
        for (const t of p.targets) assert.ok(t.expr.length > 0, `${p.title}: expr`);
      }
    });

    test(`${file}: rows are open, so their panels follow them on the board`, () => {
      for (const p of d.panels.filter((x: Json) => x.type === 'row')) {
        assert.equal(p.collapsed, false, p.title);
        assert.deepEqual(p.panels, [], p.title);
      }
    });
  }
});

describe('failure-modes board', () => {
  test('has one row per failure mode of the contract, then handshake health', () => {
    assert.deepEqual(
      rows(failureModes).map((r) => r.title),
      [...Object.values(FAILURE_MODES), 'Handshake health'],
    );
  });

  test('every row holds at least one signal panel', () => {
    for (const r of rows(failureModes)) assert.ok(r.panels.length >= 1, r.title);
  });

  test('each failure-mode row reads a metric that the contract says reveals that mode', () => {
    const titleToMode = new Map<string, string>(Object.entries(FAILURE_MODES).map(([k, v]) => [v, k]));
    for (const r of rows(failureModes)) {
      const mode = titleToMode.get(r.title);
      if (mode === undefined) continue;
      const revealing = Object.values(METRICS)
        .filter((m) => 'reveals' in m && m.reveals === mode)
        .map((m) => m.name);
      const exprs = r.panels.flatMap((p) => p.targets.map((t: Json) => t.expr as string));
      assert.ok(
        revealing.some((name) => exprs.some((e) => e.includes(name))),
        `${r.title} should query one of ${revealing.join(', ')}`,
      );
    }
  });
});

describe('overview board', () => {
  const exprs = (title: string): string[] => panel(overview, title).targets.map((t: Json) => t.expr);

  test('connections by transport plus the WebSocket gauge', () => {
    assert.deepEqual(exprs('Live connections by transport'), [
      `sum by (transport) (socketlens_connections_active${FLEET})`,
      `sum (ws_connections_active${FLEET})`,
    ]);
  });

  test('handshake p50/p95/p99 from the histogram buckets', () => {
    assert.deepEqual(
      exprs('Handshake latency p50 / p95 / p99'),
      [0.5, 0.95, 0.99].map(
        (q) =>
          `histogram_quantile(${q}, sum by (le) (rate(ws_handshake_duration_ms_bucket${FLEET}[$__rate_interval])))`,
      ),
    );
  });

  test('close codes with 1006 drawn in red', () => {
    const p = panel(overview, 'Closes by code');
    assert.deepEqual(exprs('Closes by code'), [
      `sum by (code) (rate(ws_close_total${FLEET}[$__rate_interval]))`,
    ]);
    assert.equal(p.targets[0].legendFormat, '{{code}}');
    const o = p.fieldConfig.overrides.find(
      (x: Json) => x.matcher.id === 'byName' && x.matcher.options === '1006',
    );
    assert.ok(o, 'an override for the 1006 series');
    assert.deepEqual(o.properties.find((x: Json) => x.id === 'color').value, {
      mode: 'fixed',
      fixedColor: 'red',
    });
  });

  test('connection-duration heatmap over the raw buckets', () => {
    const p = panel(overview, 'WebSocket connection duration');
    assert.equal(p.type, 'heatmap');
    assert.equal(p.options.calculate, false);
    assert.equal(p.targets[0].format, 'heatmap');
    assert.equal(
      p.targets[0].expr,
      `sum by (le) (increase(ws_connection_duration_seconds_bucket${FLEET}[$__interval]))`,
    );
  });

  test('covers the signals of the brief', () => {
    const all = panels(overview)
      .flatMap((p) => p.targets.map((t: Json) => t.expr as string))
      .join('\n');
    for (const m of [
      METRICS.handshakeFailures,
      METRICS.messagesSent,
      METRICS.messagesReceived,
      METRICS.bytesSent,
      METRICS.bytesReceived,
      METRICS.heartbeatMisses,
      METRICS.sendBuffer,
      METRICS.slowConsumerDisconnects,
      METRICS.sseStreamsActive,
      METRICS.sseEventsSent,
      METRICS.sseStreamDuration,
      METRICS.longpollActive,
      METRICS.longpollResponses,
      METRICS.longpollWait,
    ]) {
      assert.ok(all.includes(m.name), m.name);
    }
    assert.ok(all.includes('ws_send_buffer_bytes{job=~"$job", instance=~"$instance", stat="max"}'));
    assert.ok(all.includes('ws_send_buffer_bytes{job=~"$job", instance=~"$instance", stat="sum"}'));
  });
});
