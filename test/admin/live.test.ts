// The admin server's live page (GET /) and its snapshot stream (GET /live), against a real
// sidecar in front of a real ws backend, with scripted WebSocket sessions.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { createLiveEvents } from '../../proxy/admin/live-events.js';
import { LIVE_PAGE_CSP } from '../../proxy/admin/live-page.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';
import { readLive } from './sse-reader.js';

const ZERO = {
  handshakes: 0,
  handshake_failures: 0,
  messages_in: 0,
  messages_out: 0,
  bytes_in: 0,
  bytes_out: 0,
  closes: 0,
  heartbeat_misses: 0,
  slow_consumer_disconnects: 0,
};

async function get(url: string): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('admin live page and /live stream', { timeout: 20_000 }, () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port);
  });
  after(async () => {
    await sidecar?.close();
    await backend?.close();
  });

  it('GET / is one self-contained HTML page with no external URL', async () => {
    const res = await get(`${sidecar.adminUrl}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-security-policy'), LIVE_PAGE_CSP);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(res.body.startsWith('<!doctype html>'));
    assert.equal(Buffer.byteLength(res.body), Number(res.headers.get('content-length')));
    // No absolute URL anywhere: nothing is fetched from a CDN or any other host.
    assert.doesNotMatch(res.body, /(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    assert.doesNotMatch(res.body, /https?:/i);
    const refs = [...res.body.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]);
    assert.deepEqual(refs, ['data:,']); // only the empty favicon
    assert.doesNotMatch(res.body, /<script[^>]*\ssrc=/i);
    assert.doesNotMatch(res.body, /<link[^>]*stylesheet/i);
    assert.doesNotMatch(res.body, /@import|url\(/i);
    // The page subscribes to the same-origin stream.
    assert.match(res.body, /new EventSource\('live'\)/);
    // The other admin routes still answer.
    assert.equal((await get(`${sidecar.adminUrl}/healthz`)).body, 'ok\n');
    assert.equal((await get(`${sidecar.adminUrl}/nope`)).status, 404);
  });

  it('/live streams snapshots that match a scripted WebSocket session exactly', async () => {
    const live = await readLive(`${sidecar.adminUrl}/live`);
    try {
      assert.equal(live.status, 200);
      assert.equal(live.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(live.headers['cache-control'], 'no-store');
      assert.equal(live.headers['x-accel-buffering'], 'no');

      // The first snapshot is sent at once: nothing happened yet, and there is no rate yet.
      const first = await live.waitFor(() => true, 2000, 'first snapshot');
      assert.equal(first.interval_ms, null);
      assert.equal(first.deltas, null);
      assert.equal(first.rates, null);
      assert.deepEqual(first.active, { websocket: 0, sse: 0, longpoll: 0 });
      assert.deepEqual(first.totals, ZERO);
      assert.deepEqual(first.closes, {});
      assert.deepEqual(first.heartbeat_misses, {});
      assert.deepEqual(first.send_buffer, { max: 0, sum: 0 });
      assert.deepEqual(first.slowest, []);
      assert.deepEqual(first.connections, []);
      assert.equal(first.connections_total, 0);

      // One WebSocket with a client id and a secret in its query.
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws?room=a&token=s3cret`, {
        headers: { 'x-client-id': 'alice' },
      });
      await once(ws, 'open');
      const echoed = once(ws, 'message');
      ws.send('hello');
      await echoed;

      const open = await live.waitFor(
        (s) => s.active.websocket === 1 && s.totals.messages_out === 1,
        3000,
        'the open connection',
      );
      assert.deepEqual(open.active, { websocket: 1, sse: 0, longpoll: 0 });
      assert.equal(open.connections_total, 1);
      assert.equal(open.connections.length, 1);
      const c = open.connections[0]!;
      assert.equal(c.transport, 'websocket');
      assert.equal(c.client_id, 'alice');
      assert.equal(c.peer, '127.0.0.1');
      assert.equal(c.path, '/ws?room=a&token=[redacted]');
      assert.equal(c.messages_in, 1);
      assert.equal(c.messages_out, 1);
      assert.equal(c.bytes_in, 2 + 4 + 5); // masked text frame: header, mask key, "hello"
      assert.equal(c.bytes_out, 2 + 5);
      assert.equal(c.buffered_bytes, 0);
      assert.ok(c.age_ms >= 0 && c.age_ms < 5000, `age ${c.age_ms}`);
      assert.deepEqual(open.slowest, open.connections);
      assert.deepEqual(open.totals, {
        ...ZERO,
        handshakes: 1,
        messages_in: 1,
        messages_out: 1,
        bytes_in: 11,
        bytes_out: 7,
      });
      assert.deepEqual(open.closes, {});

      ws.close(1000, 'done');
      await once(ws, 'close');
      const closed = await live.waitFor((s) => s.totals.closes === 1, 3000, 'the close');
      assert.deepEqual(closed.closes, { '1000/client': 1 });
      assert.deepEqual(closed.active, { websocket: 0, sse: 0, longpoll: 0 });
      assert.deepEqual(closed.connections, []);
      assert.deepEqual(closed.slowest, []);
      assert.equal(closed.connections_total, 0);
      assert.deepEqual(closed.heartbeat_misses, {});
      assert.equal(closed.totals.handshakes, 1);
      assert.equal(closed.totals.handshake_failures, 0);
      // The same numbers as the Prometheus registry.
      assert.equal(await sidecar.metric(METRICS.closes.name, { code: '1000', initiator: 'client' }), 1);

      // Rates come from differencing: the deltas add up to the totals, and each rate is its
      // delta over its interval.
      const later = live.snapshots.slice(1, live.snapshots.indexOf(closed) + 1);
      assert.equal(
        later.reduce((n, s) => n + s.deltas!.handshakes, 0),
        1,
      );
      assert.equal(
        later.reduce((n, s) => n + s.deltas!.closes, 0),
        1,
      );
      for (const s of later) {
        assert.equal(typeof s.interval_ms, 'number');
        for (const k of Object.keys(ZERO) as Array<keyof typeof ZERO>) {
          assert.equal(s.rates![k], Math.round(((s.deltas![k] * 1000) / s.interval_ms!) * 1000) / 1000);
        }
      }
      const withOpen = later.find((s) => s.deltas!.handshakes === 1)!;
      assert.ok(withOpen.rates!.handshakes > 0);
    } finally {
      live.close();
    }
  });

  it('a server close in the 4xxx range shows as "4xxx/server"', async () => {
    const live = await readLive(`${sidecar.adminUrl}/live`);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
      await once(ws, 'open');
      const server = await backend.next();
      server.close(4001, 'kicked');
      const [code] = (await once(ws, 'close')) as [number];
      assert.equal(code, 4001);
      const s = await live.waitFor((x) => x.closes['4xxx/server'] === 1, 3000, '4xxx close');
      assert.deepEqual(s.closes, { '1000/client': 1, '4xxx/server': 1 });
    } finally {
      live.close();
    }
  });

  it('HEAD /live answers the headers and ends', async () => {
    const res = await fetch(`${sidecar.adminUrl}/live`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(await res.text(), '');
  });
});

describe('live events timer', { timeout: 10_000 }, () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port, { admin: null });
  });
  after(async () => {
    await sidecar?.close();
    await backend?.close();
  });

  it('runs one shared timer only while someone watches', async () => {
    const live = createLiveEvents(sidecar.ctx, { intervalMs: 100 });
    const server = http.createServer((req, res) => live.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
    try {
      assert.equal(live.running, false);
      assert.equal(live.viewers, 0);

      const a = await readLive(url);
      await a.waitFor(() => a.snapshots.length >= 3, 3000, 'three snapshots');
      assert.equal(live.running, true);
      assert.equal(live.viewers, 1);
      const s = a.snapshots[2]!;
      assert.ok(s.interval_ms! >= 50 && s.interval_ms! < 1000, `interval ${s.interval_ms}`);

      // A second viewer gets the latest snapshot at once and then shares the same ticks.
      const b = await readLive(url);
      const joined = await b.waitFor(() => true, 1000, 'a snapshot for the second viewer');
      const shared = await b.waitFor((x) => x.ts > joined.ts, 2000, 'a later snapshot');
      await a.waitFor((x) => x.ts === shared.ts, 2000, 'the same snapshot on the first viewer');
      assert.equal(live.viewers, 2);

      a.close();
      b.close();
      const deadline = Date.now() + 2000;
      while (live.viewers > 0 && Date.now() < deadline) await sleep(10);
      assert.equal(live.viewers, 0);
      assert.equal(live.running, false);

      // A new viewer starts a new series: no rates in its first snapshot.
      const c = await readLive(url);
      const firstAgain = await c.waitFor(() => true, 1000);
      assert.equal(firstAgain.interval_ms, null);
      assert.equal(firstAgain.rates, null);
      c.close();
    } finally {
      live.close();
      assert.equal(live.running, false);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
