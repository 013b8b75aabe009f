// deploy/kubernetes/sidecar-pod.yaml: it parses, the sidecar's environment resolves with the
// sidecar's own option parser, its probes and scrape annotations point at the admin port, and the
// probe paths are ones a real sidecar's admin server answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseArgs } from '../../proxy/config/load.js';
import { resolveSidecarConfig, SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { ROOT } from './helpers.js';

const MANIFEST = join(ROOT, 'deploy', 'kubernetes', 'sidecar-pod.yaml');

interface Port {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: { runAsUser?: number; allowPrivilegeEscalation?: boolean };
}
interface Deployment {
  kind: 'Deployment';
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { containers: Container[]; terminationGracePeriodSeconds: number };
    };
  };
}
interface Service {
  kind: 'Service';
  spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> };
}

function load(): { deployment: Deployment; service: Service } {
  const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, []);
  const objs = docs.map((d) => d.toJS() as { kind: string });
  assert.deepEqual(
    objs.map((o) => o.kind),
    ['Deployment', 'Service'],
  );
  return { deployment: objs[0] as Deployment, service: objs[1] as Service };
}

function portNumber(c: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = c.ports?.find((x) => x.name === port);
  assert.ok(p, `${c.name} has no port named ${port}`);
  return p.containerPort;
}

function sidecarOf(d: Deployment): Container {
  const c = d.spec.template.spec.containers.find((x) => x.name === 'socketlens');
  assert.ok(c, 'no socketlens container');
  return c;
}

describe('kubernetes sidecar manifest', () => {
  it('runs the app and the sidecar in one pod; the sidecar reaches the app over loopback', () => {
    const { deployment } = load();
    const containers = deployment.spec.template.spec.containers;
    assert.deepEqual(
      containers.map((c) => c.name),
      ['app', 'socketlens'],
    );
    const app = containers[0]!;
    const sidecar = sidecarOf(deployment);
    assert.deepEqual(sidecar.args, ['proxy']);
    assert.match(sidecar.image, /:\d+\.\d+\.\d+$/);
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value]));
    const cfg = resolveSidecarConfig(parseArgs(sidecar.args!.slice(1), SIDECAR_OPTIONS), env);
    assert.equal(cfg.target.href, `http://127.0.0.1:${portNumber(app, 'app')}/`);
    assert.deepEqual(cfg.listen, { host: '0.0.0.0', port: portNumber(sidecar, 'http') });
    assert.deepEqual(cfg.admin, { host: '0.0.0.0', port: portNumber(sidecar, 'admin') });
    assert.equal(cfg.admin.port, 9464);
    // The pod outlives the sidecar's drain on SIGTERM.
    assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > cfg.drainTimeout);
    assert.equal(sidecar.securityContext?.runAsUser, 1000);
    assert.equal(sidecar.securityContext?.allowPrivilegeEscalation, false);
  });

  it('probes /readyz and /healthz on the admin port and annotates that port for scraping', () => {
    const { deployment } = load();
    const sidecar = sidecarOf(deployment);
    const admin = portNumber(sidecar, 'admin');
    assert.equal(sidecar.readinessProbe?.httpGet.path, '/readyz');
    assert.equal(portNumber(sidecar, sidecar.readinessProbe!.httpGet.port), admin);
    assert.equal(sidecar.livenessProbe?.httpGet.path, '/healthz');
    assert.equal(portNumber(sidecar, sidecar.livenessProbe!.httpGet.port), admin);
    assert.deepEqual(deployment.spec.template.metadata.annotations, {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(admin),
      'prometheus.io/path': '/metrics',
    });
  });

  it('routes the Service to the sidecar port, never to the app', () => {
    const { deployment, service } = load();
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    assert.deepEqual(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels);
    const sidecar = sidecarOf(deployment);
    assert.equal(service.spec.ports.length, 1);
    assert.equal(portNumber(sidecar, service.spec.ports[0]!.targetPort), 8080);
  });

  describe('the probe and scrape paths on a real sidecar', () => {
    let app: Server;
    let sidecar: TestSidecar;
    before(async () => {
      app = createServer((s) => s.destroy());
      await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
      sidecar = await startTestSidecar((app.address() as { port: number }).port);
    });
    after(async () => {
      await sidecar?.close();
      await new Promise((resolve) => app?.close(resolve));
    });

    it('answers 200 on every path the manifest uses, and 404 elsewhere', async () => {
      const { deployment } = load();
      const c = sidecarOf(deployment);
      const paths = [
        c.readinessProbe!.httpGet.path,
        c.livenessProbe!.httpGet.path,
        deployment.spec.template.metadata.annotations['prometheus.io/path']!,
      ];
      assert.deepEqual(paths, ['/readyz', '/healthz', '/metrics']);
      for (const p of paths) {
        const res = await fetch(`${sidecar.adminUrl}${p}`);
        await res.arrayBuffer();
        assert.equal(res.status, 200, p);
      }
      const missing = await fetch(`${sidecar.adminUrl}/ready`);
      await missing.arrayBuffer();
      assert.equal(missing.status, 404);
    });
  });
});
