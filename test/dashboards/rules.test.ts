// The alert and recording rules: promtool accepts them and their unit tests pass, every alert
// is documented and points at a lab drill, and every alert is tested both firing and silent.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { listPanelQueries } from '../../dashboards/src/queries.js';
import { allRules, DRILLS, loadRulesTests, ROOT, RULES_FILE, RULES_TEST_FILE } from './rules-file.js';

const promtoolMissing = spawnSync('promtool', ['--version']).error !== undefined;
const skip = promtoolMissing && 'promtool is not installed (Debian package prometheus); skipping';

function promtool(...args: string[]) {
  return spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

const alerts = allRules().filter((r) => r.alert !== undefined);

describe('promtool', () => {
  test(`check rules ${RULES_FILE}`, { skip }, () => {
    const r = promtool('check', 'rules', RULES_FILE);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 30 rules found/);
  });

  test(`test rules ${RULES_TEST_FILE}`, { skip }, () => {
    const r = promtool('test', 'rules', RULES_TEST_FILE);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  test('every dashboard query (macros expanded) parses as PromQL', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'socketlens-queries-'));
    try {
      const rules = listPanelQueries().map((q, i) => ({ record: `panel_query_${i}`, expr: q.expr }));
      const file = join(dir, 'queries.rules.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'panel-queries', rules }] }));
      const r = promtool('check', 'rules', file);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alerts', () => {
  test('there is one per failure mode, handshake health, one for drains and rebalancing, one for Socket.IO upgrades', () => {
    assert.deepEqual(
      alerts.map((a) => a.alert),
      [
        'SocketlensUpgradeStripped',
        'SocketlensHeartbeatMisses',
        'SocketlensAbnormalClosesSpike',
        'SocketlensIdleTimeoutCut',
        'SocketlensReconnectStorm',
        'SocketlensDraining',
        'SocketlensSlowConsumer',
        'SocketlensHandshakeFailures',
        'SocketlensHandshakeSlow',
        'SocketlensEngineioNotUpgrading',
      ],
    );
  });

  for (const a of alerts) {
    test(`${a.alert}: severity, summary, description and a runbook naming a lab drill`, () => {
      assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity ?? ''), 'severity');
      assert.ok((a.annotations?.summary ?? '').length > 10, 'summary');
      assert.ok((a.annotations?.description ?? '').length > 80, 'description');
      const m = /^npm run lab -- --drill ([a-z-]+) {2}\(lab\/drills\/([a-z-]+)\.ts\)$/.exec(
        a.annotations?.runbook ?? '',
      );
      assert.ok(m, `runbook format: ${a.annotations?.runbook}`);
      assert.equal(m[1], m[2]);
      assert.ok((DRILLS as readonly string[]).includes(m[1]!), `unknown drill ${m[1]}`);
    });

    test(`${a.alert}: a short enough for: that a lab drill sees it`, () => {
      const f = a.for ?? '0s';
      const seconds = Number(/^(\d+)(s|m)$/.exec(f)?.[1]) * (f.endsWith('m') ? 60 : 1);
      assert.ok(seconds <= 60, `for: ${f}`);
    });
  }

  test('the drills of the failure modes each have an alert pointing at them', () => {
    const drills = new Set(alerts.map((a) => /--drill ([a-z-]+)/.exec(a.annotations?.runbook ?? '')?.[1]));
    for (const d of [
      'upgrade-stripped',
      'half-open',
      'idle-timeout',
      'reconnect-storm',
      'slow-consumer',
      'rejected-upgrade',
      'slow-handshake',
    ]) {
      assert.ok(drills.has(d), d);
    }
  });

  test('every alert is unit-tested firing and silent', () => {
    const cases = loadRulesTests().tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      assert.ok(
        mine.some((c) => c.exp_alerts.length > 0),
        `${a.alert} fires in some test`,
      );
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert} stays silent in some test`,
      );
    }
  });
});
