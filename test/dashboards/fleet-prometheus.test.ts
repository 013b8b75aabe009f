// The fleet variables against the real Prometheus: two sidecars scraped under different job
// labels (two services), and the boards' queries with $job / $instance set as Grafana sets them.
// Each selection sees its own sidecar's connections only; "All" sees both.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { FLEET_VARIABLES } from '../../dashboards/src/datasource.js';
import { listPanelQueries } from '../../dashboards/src/queries.js';
import { type PrometheusServer, startPrometheus } from '../../lab/runner/components/prometheus.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

const OPEN = { chat: 2, billing: 1 } as const;

describe('fleet variables on a live Prometheus with two jobs', { timeout: 60_000 }, () => {
  let backend: WsBackend;
  const sidecars: Record<string, TestSidecar> = {};
  const instance: Record<string, string> = {};
  const sockets: WebSocket[] = [];
  let prom: PrometheusServer;

  before(async () => {
    backend = await startWsBackend();
    for (const job of Object.keys(OPEN)) {
      sidecars[job] = await startTestSidecar(backend.port);
      instance[job] = new URL(sidecars[job].adminUrl!).host;
    }
    prom = await startPrometheus({
      targets: [],
      jobs: Object.keys(OPEN).map((job) => ({ name: job, targets: [instance[job]] })),
    });
    for (const [job, n] of Object.entries(OPEN))
      for (let i = 0; i < n; i++) {
        const ws = new WebSocket(`${sidecars[job].url.replace('http', 'ws')}/ws`);
        await once(ws, 'open');
        sockets.push(ws);
      }
    await waitUntil(
      async () => {
        const r = await prom.query('sum by (job) (ws_connections_active)');
        return (
          r.length === 2 && r.every((s) => Number(s.value[1]) === OPEN[s.metric.job as keyof typeof OPEN])
        );
      },
      20_000,
      'both jobs scraped with their connections',
    );
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await prom?.stop();
    for (const s of Object.values(sidecars)) await s.close();
    await backend?.close();
  });

  const valuesOf = async (expr: string) => (await prom.query(expr)).map((s) => Number(s.value[1]));
  const panelExpr = (title: string, vars: Record<string, string>) => {
    const q = listPanelQueries(vars).find((x) => x.dashboard === 'socketlens-overview' && x.panel === title);
    assert.ok(q, title);
    return q.expr;
  };

  it('the job variable lists both jobs, and the instance variable the sidecars of the chosen job', async () => {
    const labels = async (name: string, match: string) => {
      const res = await fetch(
        `${prom.url}/api/v1/label/${name}/values?${new URLSearchParams({ 'match[]': match })}`,
      );
      return ((await res.json()) as { data: string[] }).data;
    };
    assert.deepEqual(FLEET_VARIABLES, ['job', 'instance']);
    assert.deepEqual(await labels('job', 'ws_connections_active'), ['billing', 'chat']);
    assert.deepEqual(await labels('instance', 'ws_connections_active{job=~"chat"}'), [instance.chat]);
  });

  it('each job (and each instance) sees only its own connections; All sees both', async () => {
    const title = 'WebSocket connections';
    assert.deepEqual(await valuesOf(panelExpr(title, { job: 'chat' })), [2]);
    assert.deepEqual(await valuesOf(panelExpr(title, { job: 'billing' })), [1]);
    assert.deepEqual(await valuesOf(panelExpr(title, {})), [3]);
    assert.deepEqual(await valuesOf(panelExpr(title, { job: 'chat|billing' })), [3]);
    assert.deepEqual(
      await valuesOf(panelExpr(title, { instance: instance.billing.replace(/\./g, '\\\\.') })),
      [1],
    );
    const perInstance = async (vars: Record<string, string>) =>
      (await prom.query(panelExpr('Live connections per instance', vars)))
        .map((s) => `${s.metric.job} ${s.metric.instance} ${s.value[1]}`)
        .sort();
    assert.deepEqual(await perInstance({ job: 'billing' }), [`billing ${instance.billing} 1`]);
    assert.deepEqual(await perInstance({}), [`billing ${instance.billing} 1`, `chat ${instance.chat} 2`]);
  });

  it('every panel query of both boards runs under a job selection', async () => {
    for (const q of listPanelQueries({ job: 'chat' })) await prom.query(q.expr);
  });
});
