// The list of panel queries handed to the live-Prometheus test: concrete, complete, labelled.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BOARDS } from '../../dashboards/src/boards.js';
import { expandMacros, listPanelQueries } from '../../dashboards/src/queries.js';

describe('expandMacros', () => {
  test('replaces the Grafana macros with concrete windows', () => {
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's braced macro form, meant literally
      expandMacros('rate(a[$__rate_interval]) + increase(b[$__interval]) + c[${__range}]'),
      'rate(a[1m]) + increase(b[15s]) + c[30m]',
    );
  });

  test('refuses a macro it does not know', () => {
    assert.throws(() => expandMacros('rate(a[$__nope])'), /unknown Grafana macro \$__nope/);
  });
});

describe('listPanelQueries', () => {
  const queries = listPanelQueries();

  test('lists every target of every panel', () => {
    let targets = 0;
    for (const b of BOARDS) {
      for (const p of b.build().panels ?? []) targets += (p as { targets?: unknown[] }).targets?.length ?? 0;
    }
    assert.equal(queries.length, targets);
    // 62 on the overview and failure-modes boards, 25 on the protocols board.
    assert.equal(queries.length, 87);
  });

  test('names the dashboard by uid and the panel by title', () => {
    assert.deepEqual(queries[0], {
      dashboard: 'socketlens-overview',
      panel: 'WebSocket connections',
      expr: 'sum (ws_connections_active{job=~".+", instance=~".+"})',
    });
    assert.deepEqual(
      new Set(queries.map((q) => q.dashboard)),
      new Set(['socketlens-overview', 'socketlens-failure-modes', 'socketlens-protocols']),
    );
  });

  test('leaves no Grafana variable or macro in any expression', () => {
    for (const q of queries) assert.doesNotMatch(q.expr, /\$/, `${q.panel}: ${q.expr}`);
  });

  test('turns the heatmap window into 15s and rate windows into 1m', () => {
    const heat = queries.find((q) => q.panel === 'WebSocket connection duration');
    assert.equal(
      heat?.expr,
      'sum by (le) (increase(ws_connection_duration_seconds_bucket{job=~".+", instance=~".+"}[15s]))',
    );
    const opened = queries.find((q) => q.panel === 'WebSocket connections opened');
    assert.equal(opened?.expr, 'sum (rate(ws_connections_opened_total{job=~".+", instance=~".+"}[1m]))');
  });

  test('sets the fleet variables as Grafana does: All (.+) by default, or the selection given', () => {
    const [chat] = listPanelQueries({ job: 'chat', instance: '10\\.0\\.0\\.7:9464' });
    assert.equal(chat.expr, 'sum (ws_connections_active{job=~"chat", instance=~"10\\.0\\.0\\.7:9464"})');
  });
});
