/**
 * Faults on SSE streams and long-polls, against sse-starlette on uvicorn (stream_app.py): what the
 * client got, byte for byte and when, and what the backend saw (its JSON lines on stdout).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FaultRecord } from '../../../proxy/faults/registry.js';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';
import { api, sleep, startFault } from './helpers.js';

const APP = fileURLToPath(new URL('../../../../test/proxy/faults/servers/stream_app.py', import.meta.url));

/** One event as sse-starlette writes it. */
const event = (k: number, size = 0) => `id: ${k}\r\ndata: event ${k}${'.'.repeat(size)}\r\n\r\n`;
const events = (from: number, to: number, size = 0) => {
  let s = '';
  for (let k = from; k <= to; k++) s += event(k, size);
  return s;
};

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** performance.now() when the response head arrived. */
  headAt: number;
  /** Each body chunk with its arrival time. */
  chunks: Array<{ at: number; data: Buffer }>;
  body(): string;
  /** performance.now() of the first body byte whose cumulative text contains `s`. */
  when(s: string): number;
  /** 'end' for a complete response, else the error code (ECONNRESET...). */
  ended: Promise<string>;
}

/** A GET through node:http, recording the head, every chunk and how the response ended. */
function get(url: string, headers: Record<string, string> = {}): Promise<Got> & { sentAt: number } {
  const sentAt = performance.now();
  const p = new Promise<Got>((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Got['chunks'] = [];
      let settle!: (s: string) => void;
      const ended = new Promise<string>((r) => {
        settle = r;
      });
      res.on('data', (d: Buffer) => chunks.push({ at: performance.now(), data: d }));
      res.on('end', () => settle('end'));
      res.on('error', (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
      res.on('aborted', () => settle('aborted'));
      res.socket.on('error', (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
      res.on('close', () => setTimeout(() => settle('closed'), 20));
      const body = () => Buffer.concat(chunks.map((c) => c.data)).toString();
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        headAt: performance.now(),
        chunks,
        body,
        when(s: string) {
          let text = '';
          for (const c of chunks) {
            text += c.data.toString();
            if (text.includes(s)) return c.at;
          }
          return Number.NaN;
        },
        ended,
      });
    });
    req.on('error', reject);
  });
  return Object.assign(p, { sentAt });
}

describe('faults on SSE streams and long-polls (sse-starlette on uvicorn)', () => {
  let app: ChildProcess;
  let port: number;
  let sidecar: TestSidecar;
  let admin: string;
  const faultLog: FaultRecord[] = [];
  /** The backend's own lines (JSON), in order. */
  const seen: Array<{ ev: string; client: string; k?: number; sent?: number; at: number }> = [];
  const backend = (client: string) => seen.filter((l) => l.client === client);

  before(async () => {
    app = spawn('python3', [APP], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: app.stdout! });
    const [first] = await once(lines, 'line');
    port = Number(first);
    lines.on('line', (l: string) => seen.push({ ...JSON.parse(l), at: performance.now() }));
    await waitUntil(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/none`)).status === 404;
      } catch {
        return false;
      }
    }, 10_000);
    sidecar = await startTestSidecar(port, { faults: true, longpollPaths: ['/poll'] }, null, {
      faultLog: (r) => faultLog.push(r),
    });
    admin = sidecar.adminUrl!;
  });
  after(async () => {
    await sidecar?.close();
    const exited = once(app, 'exit');
    app.kill('SIGTERM');
    await exited;
  });

  const sse = (client: string, query: string) =>
    get(`${sidecar.url}/events?${query}`, { accept: 'text/event-stream', 'x-client-id': client });
  const poll = (client: string, query: string) =>
    get(`${sidecar.url}/poll?${query}`, { 'x-client-id': client });
  const lastLog = (client: string) => sidecar.logs.filter((l) => l.client_id === client).at(-1);

  it('refuses, at POST time, actions that do not apply to a transport, naming both', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [
        { action: 'drop-pongs', match: { transport: 'sse' } },
        'match.transport',
        'drop-pongs does not apply to sse: pongs exist on WebSocket connections only; use "transport": "websocket"',
      ],
      [
        { action: 'withhold-close', match: { transport: 'longpoll' } },
        'match.transport',
        'withhold-close does not apply to longpoll: close frames exist on WebSocket connections only; use "transport": "websocket"',
      ],
      [
        { action: 'stall', direction: 'backend', match: { transport: 'sse' } },
        'direction',
        'stall toward the backend does not apply to sse: after its request, an SSE stream carries bytes toward the client only; use "direction": "client"',
      ],
      [
        { action: 'close', match: { transport: 'mqtt' } },
        'match.transport',
        'expected one of websocket, sse, longpoll, got "mqtt"',
      ],
    ];
    for (const [spec, field, problem] of cases) {
      const r = await api(admin, 'POST', '/faults', spec);
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, { error: { code: 'SL_FAULT_SPEC', message: `${field}: ${problem}` } });
    }
    assert.deepEqual((await api(admin, 'GET', '/faults')).json.faults, []);
  });

  it('leaves streams and polls it does not match byte-identical', async () => {
    const stall = await startFault(admin, {
      action: 'stall',
      match: { transport: 'sse', clientId: 'nobody' },
    });
    const slow = await startFault(admin, { action: 'delay', delay: '2s', match: { clientId: 'nobody' } });
    const direct = await get(`http://127.0.0.1:${port}/events?n=4&gap=10&size=300`);
    const via = await sse('plain', 'n=4&gap=10&size=300');
    assert.equal(await via.ended, 'end');
    await direct.ended;
    assert.equal(via.body(), direct.body());
    assert.equal(via.body(), events(1, 4, 300));
    const p = await poll('plain', 'wait=20&size=5000');
    assert.equal(await p.ended, 'end');
    assert.equal(p.body(), `{"seq":1,"data":"${'.'.repeat(5000)}"}`);
    assert.equal(p.headers['content-length'], '5019');
    for (const id of [stall, slow]) assert.equal((await api(admin, 'GET', `/faults/${id}`)).json.hits, 0);
    await api(admin, 'DELETE', '/faults');
  });

  it('close ends a live SSE stream cleanly at once; the backend sees its client go', async () => {
    const s = await sse('c1', 'n=40&gap=50');
    await waitUntil(() => s.body().includes(event(3)), 5000, '3 events');
    const id = await startFault(admin, {
      action: 'close',
      match: { transport: 'sse', clientId: 'c1', live: true },
    });
    assert.equal(await s.ended, 'end');
    const body = s.body();
    const k = body.split('\r\n\r\n').length - 1;
    assert.ok(k >= 3 && k < 40, `${k} events`);
    assert.equal(body, events(1, k));
    await waitUntil(() => backend('c1').some((l) => l.ev === 'sse-gone'), 5000, 'backend saw the client go');
    const gone = backend('c1').find((l) => l.ev === 'sse-gone')!;
    assert.ok(gone.sent! >= k && gone.sent! <= k + 2, `backend sent ${gone.sent}, client got ${k}`);
    await waitUntil(() => lastLog('c1') !== undefined, 5000);
    assert.equal(lastLog('c1')!.reason, 'fault_close');
    assert.equal(lastLog('c1')!.initiator, 'proxy');
    assert.equal(lastLog('c1')!.transport, 'sse');
    assert.equal((await api(admin, 'GET', `/faults/${id}`)).json.hits, 1);
    await api(admin, 'DELETE', '/faults');
  });

  it('cut resets a live SSE stream (RST, no final chunk)', async () => {
    const s = await sse('c2', 'n=40&gap=50');
    await waitUntil(() => s.body().includes(event(2)), 5000, '2 events');
    await startFault(admin, { action: 'cut', match: { transport: 'sse', clientId: 'c2', live: true } });
    assert.equal(await s.ended, 'ECONNRESET');
    const k = s.body().split('\r\n\r\n').length - 1;
    assert.equal(s.body(), events(1, k));
    await waitUntil(() => backend('c2').some((l) => l.ev === 'sse-gone'), 5000, 'backend saw the client go');
    await waitUntil(() => lastLog('c2') !== undefined, 5000);
    assert.equal(lastLog('c2')!.reason, 'fault_cut');
    await api(admin, 'DELETE', '/faults');
  });

  it('truncate cuts the next SSE event in half, then resets', async () => {
    const s = await sse('c3', 'n=40&gap=80&size=40');
    await waitUntil(() => s.body().includes(event(2, 40)), 5000, '2 events');
    await startFault(admin, { action: 'truncate', match: { transport: 'sse', clientId: 'c3', live: true } });
    assert.equal(await s.ended, 'ECONNRESET');
    const body = s.body();
    const k = body.split('\r\n\r\n').length - 1;
    const half = event(k + 1, 40).slice(0, Math.floor(event(k + 1, 40).length / 2));
    assert.equal(body, events(1, k, 40) + half);
    await waitUntil(() => lastLog('c3') !== undefined, 5000);
    assert.equal(lastLog('c3')!.reason, 'fault_truncate');
    await waitUntil(() => backend('c3').some((l) => l.ev === 'sse-gone'), 5000, 'backend saw the client go');
    await api(admin, 'DELETE', '/faults');
  });

  it('stall holds the events (the head goes out); the backend has sent them all; they follow when it ends', async () => {
    await startFault(admin, {
      action: 'stall',
      duration: '800ms',
      match: { transport: 'sse', clientId: 'c4' },
    });
    const req = sse('c4', 'n=3&gap=20');
    const s = await req;
    assert.equal(s.status, 200);
    assert.ok(s.headAt - req.sentAt < 400, `head after ${(s.headAt - req.sentAt).toFixed(0)} ms`);
    await waitUntil(() => backend('c4').some((l) => l.ev === 'sse-done'), 5000, 'backend done');
    assert.equal(s.body(), '', 'nothing relayed while stalled');
    assert.equal(await s.ended, 'end');
    assert.equal(s.body(), events(1, 3));
    assert.ok(
      s.chunks[0]!.at - req.sentAt >= 750,
      `first event after ${(s.chunks[0]!.at - req.sentAt).toFixed(0)} ms`,
    );
  });

  it('delay holds each SSE event by the delay', async () => {
    await startFault(admin, { action: 'delay', delay: '300ms', match: { transport: 'sse', clientId: 'c5' } });
    const s = await sse('c5', 'n=3&gap=150');
    assert.equal(await s.ended, 'end');
    assert.equal(s.body(), events(1, 3));
    const sent = backend('c5').filter((l) => l.ev === 'sse-sent');
    assert.equal(sent.length, 3);
    for (const l of sent) {
      const lag = s.when(event(l.k!)) - l.at;
      assert.ok(
        lag >= 280 && lag < 1000,
        `event ${l.k} arrived ${lag.toFixed(0)} ms after the backend sent it`,
      );
    }
    await api(admin, 'DELETE', '/faults');
  });

  it('throttle holds an SSE stream to its byte rate', async () => {
    await startFault(admin, { action: 'throttle', rate: 4000, match: { transport: 'sse', clientId: 'c6' } });
    const req = sse('c6', 'n=4&gap=0&size=1000');
    const s = await req;
    assert.equal(await s.ended, 'end');
    assert.equal(s.body(), events(1, 4, 1000));
    const bytes = Buffer.byteLength(events(1, 4, 1000));
    const took = s.chunks.at(-1)!.at - s.headAt;
    // At most a twentieth of a second's worth (200 bytes) goes out at once.
    assert.ok(took >= ((bytes - 200) / 4000) * 1000 - 20, `${bytes} bytes in ${took.toFixed(0)} ms`);
    await api(admin, 'DELETE', '/faults');
  });

  it('reject-upgrades answers new SSE streams and polls with its status before the backend sees them', async () => {
    await startFault(admin, {
      action: 'reject-upgrades',
      status: 503,
      retryAfter: 7,
      match: { transport: 'sse', clientId: 'r1' },
    });
    await startFault(admin, {
      action: 'reject-upgrades',
      status: 429,
      match: { transport: 'longpoll', clientId: 'r1' },
    });
    const s = await sse('r1', 'n=2&gap=10');
    assert.equal(s.status, 503);
    assert.equal(s.headers['retry-after'], '7');
    assert.equal(await s.ended, 'end');
    const p = await poll('r1', 'wait=10');
    assert.equal(p.status, 429);
    assert.equal(p.headers['retry-after'], undefined);
    // A plain request of the same client is no stream: served.
    const plain = await get(`${sidecar.url}/events?n=1&gap=0`, { 'x-client-id': 'r1' });
    assert.equal(plain.status, 200);
    await plain.ended;
    await sleep(100);
    assert.deepEqual(
      backend('r1').map((l) => l.ev),
      ['sse-sent', 'sse-done'],
    );
    assert.equal(await sidecar.metric('socketlens_fault_hits_total', { action: 'reject-upgrades' }), 2);
    await api(admin, 'DELETE', '/faults');
  });

  it('slow-handshake holds an SSE request, so the response head comes that much later', async () => {
    await startFault(admin, {
      action: 'slow-handshake',
      delay: '400ms',
      match: { transport: 'sse', clientId: 'h1' },
    });
    const req = sse('h1', 'n=1&gap=0');
    const s = await req;
    assert.equal(s.status, 200);
    assert.ok(s.headAt - req.sentAt >= 390, `head after ${(s.headAt - req.sentAt).toFixed(0)} ms`);
    assert.equal(await s.ended, 'end');
    await waitUntil(() => backend('h1').length === 2, 5000, 'backend lines');
    assert.ok(backend('h1')[0]!.at - req.sentAt >= 390, 'the backend saw the request late');
    assert.equal(s.body(), events(1, 1));
    await api(admin, 'DELETE', '/faults');
  });

  it('long-polls: stall and delay hold the answer, close hangs up without one, cut resets, truncate halves it', async () => {
    const t0 = performance.now();
    await startFault(admin, {
      action: 'stall',
      duration: '600ms',
      match: { transport: 'longpoll', clientId: 'p1' },
    });
    await startFault(admin, {
      action: 'delay',
      delay: '300ms',
      match: { transport: 'longpoll', clientId: 'p2' },
    });
    await startFault(admin, { action: 'truncate', match: { transport: 'longpoll', clientId: 'p3' } });
    const answer = `{"seq":1,"data":"${'.'.repeat(100)}"}`;

    const r1 = poll('p1', 'wait=10&size=100');
    const p1 = await r1;
    // The fault ends 600 ms after it started: then, and not before, the answer goes out.
    assert.ok(p1.headAt - t0 >= 590, `stalled answer after ${(p1.headAt - t0).toFixed(0)} ms`);
    assert.equal(await p1.ended, 'end');
    assert.equal(p1.body(), answer);
    assert.ok(backend('p1')[0]!.at - r1.sentAt < 400, 'the backend answered at once');

    const r2 = poll('p2', 'wait=10&size=100');
    const p2 = await r2;
    assert.ok(p2.headAt - backend('p2')[0]!.at >= 280, 'the answer came the delay after the backend gave it');
    assert.equal(await p2.ended, 'end');
    assert.equal(p2.body(), answer);

    const p3 = await poll('p3', 'wait=10&size=100');
    assert.equal(p3.status, 200);
    assert.equal(await p3.ended, 'ECONNRESET');
    assert.equal(p3.body(), answer.slice(0, Math.floor(answer.length / 2)));
    await waitUntil(() => lastLog('p3') !== undefined, 5000);
    assert.equal(lastLog('p3')!.reason, 'fault_truncate');

    // close and cut on polls the backend holds: the client gets no answer, the backend sees it go.
    const hung = poll('p4', 'wait=5000');
    const reset = poll('p5', 'wait=5000');
    const errs = [hung, reset].map((r) =>
      r.then(
        () => 'answered',
        (e: NodeJS.ErrnoException) => e.code,
      ),
    );
    await sleep(150);
    await startFault(admin, {
      action: 'close',
      match: { transport: 'longpoll', clientId: 'p4', live: true },
    });
    await startFault(admin, { action: 'cut', match: { transport: 'longpoll', clientId: 'p5', live: true } });
    assert.deepEqual(await Promise.all(errs), ['ECONNRESET', 'ECONNRESET']);
    await waitUntil(
      () => backend('p4').length === 1 && backend('p5').length === 1,
      5000,
      'backend saw both polls go',
    );
    assert.deepEqual([backend('p4')[0]!.ev, backend('p5')[0]!.ev], ['poll-gone', 'poll-gone']);
    await waitUntil(() => lastLog('p4') !== undefined && lastLog('p5') !== undefined, 5000);
    assert.deepEqual([lastLog('p4')!.reason, lastLog('p5')!.reason], ['fault_close', 'fault_cut']);
    await api(admin, 'DELETE', '/faults');
  });
});
