// Grafana's provisioning in the compose lab: the files parse, the data source is the compose
// Prometheus under a fixed uid, and the dashboards path resolves, through the compose mounts, to
// the repository's dashboards/ with real dashboard JSON in it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { composeConfig, hostPathFor, hostPathOf, repoRelative, ROOT, service } from './helpers.js';

const PROVISIONING = join(ROOT, 'lab', 'compose', 'grafana', 'provisioning');

interface DatasourceFile {
  apiVersion: number;
  datasources: Array<{
    name: string;
    uid: string;
    type: string;
    access: string;
    url: string;
    isDefault: boolean;
    jsonData?: { timeInterval?: string };
  }>;
}

interface ProviderFile {
  apiVersion: number;
  providers: Array<{ name: string; type: string; folder: string; options: { path: string } }>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .map((f) => join(dir, f));
}

describe('grafana provisioning', () => {
  it('mounts the provisioning directories and dashboards/ read-only, at fixed paths', async () => {
    const { config } = await composeConfig();
    const grafana = service(config, 'grafana');
    assert.equal(
      repoRelative(hostPathOf(grafana, '/etc/grafana/provisioning/datasources')),
      'lab/compose/grafana/provisioning/datasources',
    );
    assert.equal(
      repoRelative(hostPathOf(grafana, '/etc/grafana/provisioning/dashboards')),
      'lab/compose/grafana/provisioning/dashboards',
    );
    assert.equal(repoRelative(hostPathOf(grafana, '/etc/socketlens/dashboards')), 'dashboards');
    assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    assert.deepEqual(grafana.ports, ['127.0.0.1:3000:3000/tcp']);
  });

  it('provisions the compose Prometheus as the default data source, uid socketlens-prometheus', async () => {
    const files = yamlFiles(join(PROVISIONING, 'datasources'));
    assert.deepEqual(
      files.map((f) => repoRelative(f)),
      ['lab/compose/grafana/provisioning/datasources/prometheus.yml'],
    );
    const doc = parse(readFileSync(files[0]!, 'utf8')) as DatasourceFile;
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources.length, 1);
    const ds = doc.datasources[0]!;
    assert.equal(ds.uid, 'socketlens-prometheus');
    assert.equal(ds.type, 'prometheus');
    assert.equal(ds.access, 'proxy');
    assert.equal(ds.isDefault, true);
    assert.equal(ds.jsonData?.timeInterval, '1s');
    // The URL names the compose service and the port Prometheus listens on there.
    const { config } = await composeConfig();
    const url = new URL(ds.url);
    const prom = service(config, url.hostname);
    assert.equal(url.hostname, 'prometheus');
    assert.ok(prom.command?.includes(`--web.listen-address=0.0.0.0:${url.port}`), ds.url);
  });

  it('loads dashboards from a path that compose mounts from dashboards/, which holds dashboard JSON', async () => {
    const files = yamlFiles(join(PROVISIONING, 'dashboards'));
    assert.deepEqual(
      files.map((f) => repoRelative(f)),
      ['lab/compose/grafana/provisioning/dashboards/socketlens.yml'],
    );
    const doc = parse(readFileSync(files[0]!, 'utf8')) as ProviderFile;
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.providers.length, 1);
    const provider = doc.providers[0]!;
    assert.equal(provider.type, 'file');
    assert.equal(provider.folder, 'socketlens');

    const { config } = await composeConfig();
    const grafana = service(config, 'grafana');
    const hostDir = hostPathFor(grafana, provider.options.path);
    assert.ok(hostDir, `${provider.options.path} is not inside any grafana mount`);
    assert.equal(repoRelative(hostDir), 'dashboards');
    assert.ok(statSync(hostDir).isDirectory());

    const boards = readdirSync(hostDir).filter((f) => f.endsWith('.json'));
    assert.ok(boards.length > 0, 'dashboards/ has no *.json');
    for (const f of boards) {
      const board = JSON.parse(readFileSync(join(hostDir, f), 'utf8')) as { uid?: string; title?: string };
      assert.equal(typeof board.uid, 'string', f);
      assert.equal(typeof board.title, 'string', f);
    }

    // The home dashboard is one of those files.
    const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.equal(home, '/etc/socketlens/dashboards/overview.json');
    assert.ok(statSync(hostPathFor(grafana, home)!).isFile());
  });
});
