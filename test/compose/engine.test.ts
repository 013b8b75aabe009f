// The compose lab on a real Docker engine, end to end: .ci/compose.sh builds the images offline,
// brings the stack up, checks every service's health, runs every drill from the host and once
// through `docker compose run --rm drills`, and tears down. Minutes, not seconds, and it needs
// root and a machine where dockerd can run: `.ci/run` turns it on with SOCKETLENS_COMPOSE_CI=1;
// a plain `npm test` skips it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DRILLS } from '../../lab/drills/index.js';
import type { LabReport } from '../../lab/report/render.js';
import { ROOT, run } from './helpers.js';

const ENABLED = process.env.SOCKETLENS_COMPOSE_CI === '1';
const OUT = join(ROOT, '.lab', 'compose-ci');
/** The whole script, images included; the CI run as a whole must stay under 40 minutes. */
const LIMIT_MS = 35 * 60_000;

/**
 * Drills that do not yet pass in containers, with the reason. Each still runs, from the host and
 * from the drills container, and its result is reported; it is marked todo instead of failing CI.
 * Every other drill must pass in both places.
 */
const KNOWN_GAPS: Readonly<Record<string, string>> = {};

function reportOf(dir: string): LabReport {
  return JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as LabReport;
}

describe('the compose lab on a real engine (.ci/compose.sh)', {
  skip: ENABLED ? false : 'set SOCKETLENS_COMPOSE_CI=1 to run it (.ci/run does)',
}, () => {
  let res: Awaited<ReturnType<typeof run>> | null = null;
  const reports = new Map<string, LabReport>();

  it('comes up healthy, runs every drill from the host and from the drills container, and leaves the host as it was', async (t) => {
    const dockerBefore = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
    res = await run('bash', ['.ci/compose.sh'], {
      timeoutMs: LIMIT_MS,
      env: { ...process.env, SOCKETLENS_CI_OUT: OUT },
    });
    if (res.code === 77) {
      t.skip(res.stdout.trim());
      return;
    }
    const tail = `${res.stdout}\n${res.stderr}`.split('\n').slice(-60).join('\n');
    // 0: every drill passed; 3: the stack and both runs worked, some drill failed (judged below).
    assert.ok(res.code === 0 || res.code === 3, tail);

    // Every service but Grafana (no image here) up; those with a health check healthy.
    for (const s of [
      'backend-1',
      'backend-2',
      'backend-3',
      'sidecar-1',
      'sidecar-2',
      'sidecar-3',
      'redis',
      'prometheus',
    ]) {
      assert.match(res.stdout, new RegExp(`^\\[compose-ci\\] ${s}: running, healthy$`, 'm'), s);
    }
    for (const s of ['edge', 'hop', 'pool', 'toxiproxy']) {
      assert.match(res.stdout, new RegExp(`^\\[compose-ci\\] ${s}: running$`, 'm'), s);
    }
    assert.doesNotMatch(res.stdout, /grafana/);

    // The same drills as natively, none skipped, each run once, from both places.
    for (const where of ['host-report', 'container-report']) {
      const report = reportOf(join(OUT, where));
      reports.set(where, report);
      assert.equal(report.env, 'compose', where);
      assert.equal(report.runsPerDrill, 1, where);
      assert.deepEqual(
        report.drills.map((d) => [d.name, d.runs]),
        DRILLS.map((d) => [d.name, 1]),
        where,
      );
      assert.match(readFileSync(join(OUT, where, 'report.html'), 'utf8'), /· env compose ·/, where);
    }
    assert.ok(existsSync(join(OUT, 'ps.json')));

    // The engine as it was: running if it was, otherwise stopped with no trace in the network.
    assert.equal(spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0, dockerBefore);
    if (!dockerBefore) {
      assert.match(res.stdout, /stopped dockerd and removed its bridges and iptables rules/);
      const rules = spawnSync('iptables-save', { encoding: 'utf8' }).stdout;
      assert.doesNotMatch(rules, /DOCKER/);
      assert.notEqual(spawnSync('ip', ['link', 'show', 'docker0'], { stdio: 'ignore' }).status, 0);
    }
  });

  for (const d of DRILLS) {
    const gap = KNOWN_GAPS[d.name];
    it(`${d.name} passes from the host and from the drills container`, gap ? { todo: gap } : {}, (t) => {
      if (res === null || res.code === 77) {
        t.skip('the stack did not run');
        return;
      }
      for (const where of ['host-report', 'container-report']) {
        const drill = reports.get(where)?.drills.find((x) => x.name === d.name);
        assert.ok(drill, `${where}: no result for ${d.name}`);
        assert.equal(drill.passes, 1, `${where}: ${d.name} failed`);
      }
    });
  }
});
