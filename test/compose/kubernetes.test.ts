// deploy/kubernetes/sidecar-pod.yaml: it parses and validates against the pinned Kubernetes
// schemas, the sidecar is a native sidecar whose environment resolves with the sidecar's own option
// parser, the grace period covers the drain, its probes, preStop hook and scrape annotations point
// at the admin port, and those paths are ones a real sidecar's admin server answers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  restartPolicy?: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: Probe };
  securityContext?: { runAsUser?: number; allowPrivilegeEscalation?: boolean };
}
interface Deployment {
  kind: 'Deployment';
  spec: {
    selector: { matchLabels: Record<string, string> };
    strategy: { type: string; rollingUpdate: { maxSurge: number; maxUnavailable: number } };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { initContainers: Container[]; containers: Container[]; terminationGracePeriodSeconds: number };
    };
  };
}
interface Service {
  kind: 'Service';
  spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> };
}
interface Budget {
  kind: 'PodDisruptionBudget';
  spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
}

function load(): { deployment: Deployment; service: Service; budget: Budget } {
  const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, []);
  const objs = docs.map((d) => d.toJS() as { kind: string });
  assert.deepEqual(
    objs.map((o) => o.kind),
    ['Deployment', 'Service', 'PodDisruptionBudget'],
  );
  return { deployment: objs[0] as Deployment, service: objs[1] as Service, budget: objs[2] as Budget };
}

function portNumber(c: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = c.ports?.find((x) => x.name === port);
  assert.ok(p, `${c.name} has no port named ${port}`);
  return p.containerPort;
}

function sidecarOf(d: Deployment): Container {
  const c = d.spec.template.spec.initContainers.find((x) => x.name === 'socketlens');
  assert.ok(c, 'no socketlens container');
  return c;
}

function configOf(c: Container) {
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  return resolveSidecarConfig(parseArgs(c.args!.slice(1), SIDECAR_OPTIONS), env);
}

const validatorMissing = spawnSync('kubernetes-validate', ['--version']).error !== undefined;

describe('kubernetes sidecar manifest', () => {
  it('runs the sidecar as a native sidecar beside the app; the sidecar reaches the app over loopback', () => {
    const { deployment } = load();
    const spec = deployment.spec.template.spec;
    assert.deepEqual(
      spec.containers.map((c) => c.name),
      ['app'],
    );
    assert.deepEqual(
      spec.initContainers.map((c) => [c.name, c.restartPolicy]),
      [['socketlens', 'Always']],
    );
    const app = spec.containers[0]!;
    const sidecar = sidecarOf(deployment);
    assert.deepEqual(sidecar.args, ['proxy']);
    assert.match(sidecar.image, /:\d+\.\d+\.\d+$/);
    const cfg = configOf(sidecar);
    assert.equal(cfg.target.href, `http://127.0.0.1:${portNumber(app, 'app')}/`);
    assert.deepEqual(cfg.listen, { host: '0.0.0.0', port: portNumber(sidecar, 'http') });
    assert.deepEqual(cfg.admin, { host: '0.0.0.0', port: portNumber(sidecar, 'admin') });
    assert.equal(cfg.admin!.port, 9464);
    assert.equal(sidecar.securityContext?.runAsUser, 1000);
    assert.equal(sidecar.securityContext?.allowPrivilegeEscalation, false);
  });

  it("sizes the grace period to the drain, and drains from the app container's preStop", () => {
    const { deployment, budget } = load();
    const sidecar = sidecarOf(deployment);
    const cfg = configOf(sidecar);
    assert.deepEqual(
      [cfg.drainDelay, cfg.drainWindow, cfg.drainTimeout, cfg.drainCloseCode],
      [5000, 20_000, 5000, 1001],
    );
    const drainMs = cfg.drainDelay + cfg.drainWindow + cfg.drainTimeout;
    // The app's exit and the sidecar's own stop need a margin on top of the drain.
    assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 >= drainMs + 10_000);
    const app = deployment.spec.template.spec.containers[0]!;
    assert.deepEqual(app.lifecycle?.preStop, {
      httpGet: { path: '/prestop', port: portNumber(sidecar, 'admin') },
    });
    assert.deepEqual(deployment.spec.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    assert.equal(budget.spec.maxUnavailable, 1);
    assert.deepEqual(budget.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  });

  it('validates against the Kubernetes 1.33 schemas (strict), and a field Kubernetes 1.27 lacks fails there', {
    skip: validatorMissing && 'kubernetes-validate not installed (.ci/install-deps.sh)',
  }, () => {
    const ok = spawnSync('bash', [join(ROOT, '.ci', 'validate-manifests.sh')], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    // The validator can fail: a misspelt field, and the native sidecar field before it existed.
    const dir = mkdtempSync(join(tmpdir(), 'k8s-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(MANIFEST, 'utf8').replace('maxUnavailable: 0', 'maxUnavailabel: 0'));
    const typo = spawnSync('kubernetes-validate', ['-k', '1.33.0', '--strict', '--quiet', bad], {
      encoding: 'utf8',
    });
    assert.equal(typo.status, 1);
    assert.match(typo.stdout + typo.stderr, /'maxUnavailabel' was unexpected/);
    const old = spawnSync('kubernetes-validate', ['-k', '1.27.0', '--strict', '--quiet', MANIFEST], {
      encoding: 'utf8',
    });
    assert.equal(old.status, 1);
    assert.match(old.stdout + old.stderr, /'restartPolicy' was unexpected/);
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

    it('answers the preStop hook once the drain it started is over, and /readyz is 503 from then on', async () => {
      const { deployment } = load();
      const hook = deployment.spec.template.spec.containers[0]!.lifecycle!.preStop!.httpGet.path;
      const drained = await startTestSidecar((app.address() as { port: number }).port, { drainDelay: 300 });
      try {
        const t0 = performance.now();
        const res = await fetch(`${drained.adminUrl}${hook}`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), {
          phase: 'drained',
          rebalancing: false,
          remaining: 0,
          closed: 0,
          left_open: 0,
        });
        assert.ok(performance.now() - t0 >= 300);
        const ready = await fetch(`${drained.adminUrl}/readyz`);
        await ready.arrayBuffer();
        assert.equal(ready.status, 503);
      } finally {
        await drained.close();
      }
    });
  });
});
