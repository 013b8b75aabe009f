// The Prometheus config as the compose `prometheus` service renders it: its entrypoint script is
// run here on the very files compose mounts, the result must equal what the native lab renders,
// and `promtool check config` must pass on it (rule files included).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findBinary } from '../../lab/runner/binaries.js';
import { renderPrometheusConfig } from '../../lab/runner/components/prometheus.js';
import { configPath, repoRoot } from '../../lab/runner/paths.js';
import { type ComposeService, composeConfig, hostPathOf, ROOT, run, service } from './helpers.js';

const SCRIPT_TARGET = '/etc/socketlens/render-and-run.sh';

/** Runs the service's entrypoint script on the host, its container paths mapped to the mounts. */
function renderAsCompose(prom: ComposeService, outDir: string, extraArgs: string[] = []) {
  const env = prom.environment ?? {};
  return run('sh', [hostPathOf(prom, SCRIPT_TARGET), ...extraArgs], {
    env: {
      PATH: process.env.PATH,
      SIDECAR_TARGETS: env.SIDECAR_TARGETS,
      PROM_TEMPLATE: hostPathOf(prom, env.PROM_TEMPLATE!),
      PROM_RULES_SRC: hostPathOf(prom, env.PROM_RULES_SRC!),
      PROM_OUT_DIR: outDir,
    },
  });
}

describe('prometheus as compose runs it', { timeout: 30_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'socketlens-compose-prom-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enters through render-and-run.sh with the shared template and dashboards/alerts', async () => {
    const { config } = await composeConfig();
    const prom = service(config, 'prometheus');
    assert.deepEqual(prom.entrypoint, ['/bin/sh', SCRIPT_TARGET]);
    assert.equal(prom.command?.[0], '/bin/prometheus');
    assert.ok(prom.command?.includes('--web.listen-address=0.0.0.0:9090'));
    assert.ok(!prom.command?.some((a) => a.startsWith('--config.file')), 'the script adds --config.file');
    assert.equal(
      hostPathOf(prom, prom.environment!.PROM_TEMPLATE!),
      configPath('prometheus', 'prometheus.yml.template'),
    );
    assert.equal(
      hostPathOf(prom, prom.environment!.PROM_RULES_SRC!),
      join(repoRoot(), 'dashboards', 'alerts'),
    );
    assert.equal(prom.environment!.PROM_OUT_DIR, '/prometheus/socketlens');
  });

  it('renders the same text as the native lab for the compose targets, and promtool accepts it', async () => {
    const { config } = await composeConfig();
    const prom = service(config, 'prometheus');
    const out = join(dir, 'render');
    const res = await renderAsCompose(prom, out);
    assert.equal(res.code, 0, res.stderr);
    const rendered = join(out, 'prometheus.yml');
    assert.equal(res.stdout, `${rendered}\n`);

    const targets = JSON.parse(prom.environment!.SIDECAR_TARGETS!) as string[];
    assert.deepEqual(targets, ['sidecar-1:9464', 'sidecar-2:9464', 'sidecar-3:9464']);
    assert.equal(readFileSync(rendered, 'utf8'), renderPrometheusConfig(targets, join(out, 'rules')));

    const check = await run(findBinary('promtool'), ['check', 'config', rendered]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /SUCCESS: .*prometheus\.yml is valid prometheus config file syntax/);
  });

  it('loads every rule file of dashboards/alerts, by symlink, but not the promtool unit tests', async () => {
    const { config } = await composeConfig();
    const out = join(dir, 'rules-check');
    const res = await renderAsCompose(service(config, 'prometheus'), out);
    assert.equal(res.code, 0, res.stderr);
    const alerts = join(ROOT, 'dashboards', 'alerts');
    const expected = readdirSync(alerts)
      .filter((f) => f.endsWith('.yml') && !f.endsWith('.test.yml'))
      .sort();
    assert.ok(expected.length > 0, 'dashboards/alerts has no rule file');
    const linked = readdirSync(join(out, 'rules')).sort();
    assert.deepEqual(linked, expected);
    for (const f of linked) assert.equal(readlinkSync(join(out, 'rules', f)), join(alerts, f));
  });

  it('refuses to start without scrape targets', async () => {
    const { config } = await composeConfig();
    const prom = service(config, 'prometheus');
    const res = await renderAsCompose(
      { ...prom, environment: { ...prom.environment, SIDECAR_TARGETS: '' } },
      join(dir, 'none'),
    );
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /SIDECAR_TARGETS must list the scrape targets/);
  });

  it('execs the given command with --config.file appended', async () => {
    const { config } = await composeConfig();
    const out = join(dir, 'exec');
    const res = await renderAsCompose(service(config, 'prometheus'), out, ['echo', '--flag']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `--flag --config.file=${join(out, 'prometheus.yml')}\n`);
  });
});
