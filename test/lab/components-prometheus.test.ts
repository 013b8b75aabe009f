// A real Prometheus scraping a tiny metrics endpoint, its alerts API, and promtool on the
// rendered config.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkPrometheusConfig,
  type PrometheusServer,
  renderPrometheusConfig,
  startPrometheus,
} from '../../lab/runner/components/prometheus.js';
import { waitUntil } from '../../lab/runner/wait.js';

const RULES = `groups:
  - name: lab-test
    rules:
      - alert: LabTestAlwaysFiring
        expr: vector(1)
        labels:
          severity: info
        annotations:
          summary: fires on the first evaluation
`;

describe('prometheus', { timeout: 20_000 }, () => {
  let metrics: Server;
  let target: string;
  let rulesDir: string;
  let prom: PrometheusServer;

  before(async () => {
    metrics = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# HELP lab_test_value A constant.\n# TYPE lab_test_value gauge\nlab_test_value 42\n');
    });
    await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(metrics.address() as { port: number }).port}`;
    rulesDir = mkdtempSync(join(tmpdir(), 'socketlens-rules-'));
    writeFileSync(join(rulesDir, 'lab-test.yml'), RULES);
    prom = await startPrometheus({ targets: [target], rulesDir });
  });

  after(async () => {
    await prom?.stop();
    metrics?.closeAllConnections();
    await new Promise((resolve) => metrics?.close(resolve));
    if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  });

  it('renders targets as a YAML flow list and the rules glob', () => {
    const text = renderPrometheusConfig(['127.0.0.1:1', 'sidecar:9464'], '/rules');
    assert.match(text, /^ {6}- targets: \["127\.0\.0\.1:1","sidecar:9464"\]$/m);
    assert.match(text, /^ {2}- "\/rules\/\*\.yml"$/m);
  });

  it('passes promtool check config', async () => {
    const report = await checkPrometheusConfig(prom.configPath);
    assert.match(report, /SUCCESS/);
  });

  it("scrapes the target: query('up') is 1 and the metric is there", async () => {
    let up: Awaited<ReturnType<PrometheusServer['query']>> = [];
    await waitUntil(
      'up == 1',
      async () => {
        up = await prom.query('up');
        return up.length === 1 && up[0]!.value[1] === '1';
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    assert.equal(up[0]!.metric.instance, target);
    assert.equal(up[0]!.metric.job, 'socketlens');
    const [sample] = await prom.query('lab_test_value');
    assert.equal(sample!.value[1], '42');
  });

  it('loads the rule files and reports a firing alert', async () => {
    let names: string[] = [];
    await waitUntil(
      'LabTestAlwaysFiring firing',
      async () => {
        const alerts = await prom.alerts();
        names = alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname!);
        return names.length > 0;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    assert.deepEqual(names, ['LabTestAlwaysFiring']);
  });

  it('reports a bad expression as a coded error', async () => {
    await assert.rejects(prom.query('up{'), { code: 'SL_LAB_HTTP' });
  });
});
