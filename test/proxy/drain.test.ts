// The drain and the rebalancing of a real sidecar, on a virtual clock: readiness and refusals
// first, then WebSockets closed with 1001 a few at a time over the window, SSE streams ended after
// a retry: field, long-polls answered 503; metrics and the two log lines say how far it got.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { seededRandom } from '../../lab/client/backoff.js';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import type { DrainRecord } from '../../proxy/connections/drain-control.js';
import { type Sidecar, startSidecar } from '../../proxy/sidecar.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import { waitUntil } from '../helpers/raw.js';
import { VirtualClock } from '../helpers/virtual-clock.js';
import { listenLoopback, closeHttpServer } from '../helpers/http-server.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

interface Client {
  ws: WebSocket;
  code: number | null;
  reason: string;
}

async function openClient(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const c: Client = { ws, code: null, reason: '' };
  ws.on('close', (code, reason) => {
    c.code = code;
    c.reason = reason.toString();
  });
  ws.on('error', () => {});
  await once(ws, 'open');
  return c;
}

/** An upgrade answered without a 101: its status and Retry-After. */
function refusedUpgrade(url: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string });
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => {});
  });
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

describe('drain and rebalancing', () => {
  let backend: http.Server;
  let sidecar: Sidecar;
  let clock: VirtualClock;
  let closeLog: CloseRecord[];
  let drainLog: DrainRecord[];

  beforeEach(async () => {
    backend = http.createServer((req, res) => {
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: hello\n\n');
        return; // held open
      }
      if (req.url?.startsWith('/poll')) return; // a long-poll with nothing to say yet
      res.end('ok');
    });
    const wss = new WebSocketServer({ noServer: true });
    backend.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('error', () => {}));
    });
    const backendPort = await listenLoopback(backend);
    clock = new VirtualClock();
    closeLog = [];
    drainLog = [];
    sidecar = await startSidecar(
      sidecarConfig({
        target: `http://127.0.0.1:${backendPort}`,
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
      }),
      {
        log: (r) => closeLog.push(r),
        drainLog: (r) => drainLog.push(r),
        drainClock: clock,
        drainRandom: seededRandom(5),
      },
    );
  });

  afterEach(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  const metric = (name: string, labels: Record<string, string> = {}) =>
    sidecar.ctx.metrics.value(name, labels);

  it('refuses first, then closes WebSockets over the window with 1001, SSE after retry:, long-polls with 503', async () => {
    const ws = await Promise.all(
      Array.from({ length: 20 }, () => openClient(`${sidecar.url.replace('http', 'ws')}/ws`)),
    );
    const sse = await fetch(`${sidecar.url}/sse`, { headers: { accept: 'text/event-stream' } });
    const sseText = sse.text();
    const poll = fetch(`${sidecar.url}/poll`);
    await waitUntil(() => sidecar.ctx.table.size === 22, 5000, '22 live connections');

    const started = await fetch(`${sidecar.adminUrl}/drain?window=10s&delay=1s`, { method: 'POST' });
    assert.equal(started.status, 202);
    assert.deepEqual(await started.json(), { phase: 'notice', rebalancing: false, remaining: 0, closed: 0 });
    assert.deepEqual(
      drainLog.map((r) => [r.event, r.kind, r.connections, r.window_ms, r.delay_ms, r.close_code]),
      [['drain_started', 'drain', 22, 10_000, 1000, 1001]],
    );
    assert.equal(await metric('socketlens_drain_active', { kind: 'drain' }), 1);

    // Notice: readiness off, new connections of every transport refused, nothing closed yet.
    assert.equal((await get(`${sidecar.adminUrl}/readyz`)).status, 503);
    assert.deepEqual(await refusedUpgrade(`${sidecar.url.replace('http', 'ws')}/ws`), {
      status: 503,
      retryAfter: '1',
    });
    assert.deepEqual(
      [
        await get(`${sidecar.url}/sse`, { accept: 'text/event-stream' }),
        await get(`${sidecar.url}/poll`),
      ].map((r) => [r.status, r.retryAfter]),
      [
        [503, '1'],
        [503, '1'],
      ],
    );
    assert.equal(await metric('ws_handshake_failures_total', { reason: 'draining' }), 1);
    assert.equal(sidecar.ctx.table.size, 22);

    clock.advance(1000);
    await tick();
    assert.equal(sidecar.ctx.drain.phase, 'closing');
    assert.equal(await metric('socketlens_drain_connections_remaining', { kind: 'drain' }), 22);
    // 22 slots of 454.5 ms: exactly 11 closes in the first half of the window, all 22 at its end.
    clock.advance(5000);
    assert.equal(await metric('socketlens_drain_closes_total', { kind: 'drain', pace: 'staggered' }), 11);
    assert.equal(await metric('socketlens_drain_connections_remaining', { kind: 'drain' }), 11);
    clock.advance(5000);
    assert.equal(await metric('socketlens_drain_closes_total', { kind: 'drain', pace: 'staggered' }), 22);
    await waitUntil(() => ws.every((c) => c.code !== null), 5000, 'every WebSocket closed');
    // The close reason is the sidecar's closed set (shutdown); the log's detail says which kind.
    assert.deepEqual(new Set(ws.map((c) => `${c.code} ${c.reason}`)), new Set(['1001 shutdown']));

    // SSE ends cleanly after a retry: field; the long-poll gets 503 + Retry-After.
    assert.equal(await sseText, 'data: hello\n\nretry: 1000\n\n');
    const polled = await poll;
    assert.deepEqual([polled.status, polled.headers.get('retry-after')], [503, '1']);

    await waitUntil(() => drainLog.length === 2, 5000, 'drain_finished');
    assert.deepEqual(
      [drainLog[1]!.event, drainLog[1]!.connections, drainLog[1]!.left_open, drainLog[1]!.outcome],
      ['drain_finished', 22, 0, 'done'],
    );
    assert.equal(sidecar.ctx.drain.phase, 'drained');
    assert.equal(await metric('socketlens_drain_active', { kind: 'drain' }), 0);
    const wsCloses = closeLog.filter((r) => r.transport === 'websocket' && r.status === undefined);
    assert.equal(wsCloses.length, 20);
    for (const r of wsCloses)
      assert.deepEqual([r.close_code, r.initiator, r.reason, r.detail], [1001, 'proxy', 'shutdown', 'drain']);
    // Still refusing until the process exits or the drain is cancelled.
    assert.equal((await get(`${sidecar.adminUrl}/readyz`)).status, 503);
    const cancelled = await fetch(`${sidecar.adminUrl}/drain/cancel`, { method: 'POST' });
    assert.equal(cancelled.status, 200);
    assert.equal((await get(`${sidecar.adminUrl}/readyz`)).status, 200);
  });

  it('a window of 0 closes everything at once, counted as pace="at_once"', async () => {
    const ws = await Promise.all(
      Array.from({ length: 5 }, () => openClient(`${sidecar.url.replace('http', 'ws')}/ws`)),
    );
    await waitUntil(() => sidecar.ctx.table.size === 5, 5000, '5 live connections');
    await fetch(`${sidecar.adminUrl}/drain?window=0&delay=0&code=4001`, { method: 'POST' });
    await waitUntil(() => ws.every((c) => c.code !== null), 5000, 'every WebSocket closed');
    assert.deepEqual(new Set(ws.map((c) => c.code)), new Set([4001]));
    assert.equal(await metric('socketlens_drain_closes_total', { kind: 'drain', pace: 'at_once' }), 5);
    assert.equal(await metric('socketlens_drain_closes_total', { pace: 'staggered' }), 0);
  });

  it('rebalances a share of the connections over the window while still serving', async () => {
    const wsUrl = `${sidecar.url.replace('http', 'ws')}/ws`;
    const ws = await Promise.all(Array.from({ length: 10 }, () => openClient(wsUrl)));
    await waitUntil(() => sidecar.ctx.table.size === 10, 5000, '10 live connections');

    const bad = await fetch(`${sidecar.adminUrl}/rebalance?share=1.5`, { method: 'POST' });
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { error: string }).error,
      /^share: "1.5" must be a number in \(0, 1\]/,
    );

    const res = await fetch(`${sidecar.adminUrl}/rebalance?share=0.3&window=3s`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.deepEqual(
      drainLog.map((r) => [r.event, r.kind, r.connections, r.share]),
      [['drain_started', 'rebalance', 3, 0.3]],
    );
    // A second one waits for the first.
    assert.equal((await fetch(`${sidecar.adminUrl}/rebalance?share=0.3`, { method: 'POST' })).status, 409);
    assert.equal(await metric('socketlens_drain_active', { kind: 'rebalance' }), 1);
    assert.equal((await get(`${sidecar.adminUrl}/readyz`)).status, 200);
    const late = await openClient(wsUrl); // still accepted

    clock.advance(1000);
    assert.equal(await metric('socketlens_drain_closes_total', { kind: 'rebalance', pace: 'staggered' }), 1);
    clock.advance(2000);
    await waitUntil(() => ws.filter((c) => c.code !== null).length === 3, 5000, '3 closed');
    assert.deepEqual(
      ws.filter((c) => c.code !== null).map((c) => `${c.code} ${c.reason}`),
      ['1001 shutdown', '1001 shutdown', '1001 shutdown'],
    );
    const rebalanced = () => closeLog.filter((r) => r.transport === 'websocket' && r.status === undefined);
    await waitUntil(() => rebalanced().length === 3, 5000, '3 close records');
    assert.deepEqual(
      rebalanced().map((r) => r.detail),
      ['rebalance', 'rebalance', 'rebalance'],
    );
    await waitUntil(() => drainLog.length === 2, 5000, 'rebalance finished');
    assert.deepEqual([drainLog[1]!.event, drainLog[1]!.connections], ['drain_finished', 3]);
    assert.equal(late.code, null);
    assert.equal(await metric('socketlens_drain_active', { kind: 'rebalance' }), 0);
    late.ws.close();
    for (const c of ws) c.ws.close();
  });
});
