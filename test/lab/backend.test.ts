// The demo backend on its own (in-process bus): every endpoint over real loopback sockets.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { type Backend, startBackend } from '../../lab/backend/server.js';
import { BROWSER_MODULES } from '../../lab/backend/static-client.js';

/** Opens a ws client and resolves once it is open. */
async function openWs(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, opts);
  await once(ws, 'open');
  return ws;
}

/** The next `n` messages of a socket, with their binary flag. */
function nextMessages(ws: WebSocket, n: number): Promise<{ data: Buffer; isBinary: boolean }[]> {
  return new Promise((resolve) => {
    const got: { data: Buffer; isBinary: boolean }[] = [];
    const onMessage = (data: Buffer, isBinary: boolean) => {
      got.push({ data, isBinary });
      if (got.length === n) {
        ws.off('message', onMessage);
        resolve(got);
      }
    };
    ws.on('message', onMessage);
  });
}

async function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = once(ws, 'close');
  ws.close();
  await closed;
}

/** Reads an SSE fetch body until `predicate(text so far)` holds. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  predicate: (text: string) => boolean,
) {
  const decoder = new TextDecoder();
  let text = '';
  while (!predicate(text)) {
    const r = await reader.read();
    if (r.done) break;
    text += decoder.decode(r.value, { stream: true });
  }
  return text;
}

describe('backend (single node)', () => {
  let backend: Backend;
  let wsUrl: string;

  before(async () => {
    backend = await startBackend({ nodeId: 'n1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
    wsUrl = `${backend.url.replace('http', 'ws')}/ws`;
  });
  after(async () => {
    await backend.close();
  });

  test('GET /healthz answers ok with the node header', async () => {
    const res = await fetch(`${backend.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-backend-node'), 'n1');
    assert.equal(await res.text(), 'ok');
  });

  test('echoes text and binary frames byte for byte, with the same opcode', async () => {
    const ws = await openWs(`${wsUrl}?room=echo`);
    const binary = randomBytes(4096);
    binary[0] = 0x7b; // starts like JSON, but binary frames are never commands
    const frames: [string | Buffer, boolean][] = [
      ['héllo ✓ 🚀', false],
      ['{"type":"not-a-command","x":1}', false],
      ['{broken json', false],
      [binary, true],
      [Buffer.alloc(0), true],
    ];
    const got = nextMessages(ws, frames.length);
    for (const [data, isBinary] of frames) ws.send(data, { binary: isBinary });
    const echoed = await got;
    for (let i = 0; i < frames.length; i++) {
      const [data, isBinary] = frames[i]!;
      assert.equal(echoed[i]!.isBinary, isBinary, `frame ${i} opcode`);
      assert.deepEqual(echoed[i]!.data, Buffer.isBuffer(data) ? data : Buffer.from(data), `frame ${i} bytes`);
    }
    await closeWs(ws);
  });

  test('a GET /ws whose Upgrade header was stripped gets 426', async () => {
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = request(`${backend.url}/ws`, {
          headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
        });
        req.on('response', async (r) => {
          let body = '';
          for await (const c of r) body += c;
          resolve({ status: r.statusCode!, headers: r.headers, body });
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(res.status, 426);
    assert.equal(res.headers.upgrade, 'websocket');
    assert.equal(res.headers['x-backend-node'], 'n1');
    assert.match(res.body, /^Upgrade Required: .*stripped it\.\n$/s);
    assert.equal(backend.stats().http.upgradeRequired, 1);
  });

  test('an upgrade to another path is refused with 404', async () => {
    const ws = new WebSocket(`${backend.url.replace('http', 'ws')}/nope`);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 404);
    ws.on('error', () => {}); // terminate() of a refused handshake reports an error; expected
    ws.terminate();
  });

  test('a publish command reaches the room (and only the room) with the envelope', async () => {
    const a = await openWs(`${wsUrl}?room=chat`);
    const b = await openWs(`${wsUrl}?room=chat`);
    const other = await openWs(`${wsUrl}?room=elsewhere`);
    let otherGot = 0;
    other.on('message', () => otherGot++);
    const atA = nextMessages(a, 1);
    const atB = nextMessages(b, 1);
    a.send(JSON.stringify({ type: 'publish', room: 'chat', data: { text: 'hi', n: [1, 2] } }));
    for (const [m] of [await atA, await atB]) {
      const msg = JSON.parse(m!.data.toString());
      assert.equal(typeof msg.t, 'number');
      delete msg.t;
      assert.deepEqual(msg, {
        type: 'message',
        room: 'chat',
        seq: 1,
        origin: 'n1',
        node: 'n1',
        data: { text: 'hi', n: [1, 2] },
      });
    }
    // A publish without room goes to the socket's own room; seq keeps counting per room.
    const next = nextMessages(b, 1);
    a.send(JSON.stringify({ type: 'publish', data: null }));
    assert.equal(JSON.parse((await next)[0]!.data.toString()).seq, 2);
    assert.equal(otherGot, 0);
    // ?since replays what the room buffered after that seq.
    const late = new WebSocket(`${wsUrl}?room=chat&since=1`);
    const replay = nextMessages(late, 1);
    assert.equal(JSON.parse((await replay)[0]!.data.toString()).seq, 2);
    await Promise.all([a, b, other, late].map(closeWs));
  });

  test('SSE: comment first, then id/data events, and Last-Event-ID replay', async () => {
    const res = await fetch(`${backend.url}/sse?room=news`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    const reader = res.body!.getReader();
    assert.equal(await readUntil(reader, (t) => t.endsWith('\n\n')), ': connected node=n1 room=news\n\n');

    const pub = await fetch(`${backend.url}/publish`, {
      method: 'POST',
      body: JSON.stringify({ room: 'news', data: { headline: 'x' } }),
    });
    assert.equal(pub.status, 202);
    assert.deepEqual(await pub.json(), { accepted: true, room: 'news', seq: 1, node: 'n1' });

    const event = await readUntil(reader, (t) => t.endsWith('\n\n'));
    const m = /^id: 1\ndata: (.*)\n\n$/.exec(event);
    assert.ok(m, `event framing: ${JSON.stringify(event)}`);
    const body = JSON.parse(m[1]!);
    assert.deepEqual([body.seq, body.room, body.data], [1, 'news', { headline: 'x' }]);
    await reader.cancel();

    const again = await fetch(`${backend.url}/sse?room=news`, { headers: { 'last-event-id': '0' } });
    const r2 = again.body!.getReader();
    const text = await readUntil(r2, (t) => t.includes('id: 1\n'));
    assert.match(text, /^: connected node=n1 room=news\n\nid: 1\ndata: \{.*"seq":1.*\}\n\n$/);
    await r2.cancel();
  });

  test('long-poll: immediate answer when behind, waits for the next message otherwise', async () => {
    await backend.publish('poll', 'one');
    const now = await (await fetch(`${backend.url}/poll?room=poll&since=0&timeout=5000`)).json();
    assert.deepEqual(
      now.messages.map((x: { seq: number; data: unknown }) => [x.seq, x.data]),
      [[1, 'one']],
    );
    assert.equal(now.next, 1);

    const started = performance.now();
    const waiting = fetch(`${backend.url}/poll?room=poll&since=1&timeout=5000`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(backend.stats().poll.waiting, 1);
    await backend.publish('poll', 'two');
    const later = await waiting;
    const elapsed = performance.now() - started;
    assert.deepEqual(
      later.messages.map((x: { seq: number; data: unknown }) => [x.seq, x.data]),
      [[2, 'two']],
    );
    assert.equal(later.next, 2);
    assert.ok(elapsed >= 140 && elapsed < 2000, `answered on publish, after ${elapsed} ms`);
  });

  test('long-poll: empty answer after the timeout; no since means "from now"', async () => {
    const started = performance.now();
    const res = await fetch(`${backend.url}/poll?room=poll&since=2&timeout=200`);
    assert.deepEqual(await res.json(), { messages: [], next: 2 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190 && elapsed < 2000, `timed out after ${elapsed} ms`);
    assert.deepEqual(await (await fetch(`${backend.url}/poll?room=poll&timeout=0`)).json(), {
      messages: [],
      next: 2,
    });
    const bad = await fetch(`${backend.url}/poll?room=poll&since=-1`);
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'SL_LAB_BAD_SINCE');
  });

  test('POST /publish rejects bad bodies with coded errors', async () => {
    const notJson = await fetch(`${backend.url}/publish`, { method: 'POST', body: '{nope' });
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error.code, 'SL_LAB_BAD_JSON');
    const noRoom = await fetch(`${backend.url}/publish`, { method: 'POST', body: '{"data":1}' });
    assert.equal(noRoom.status, 400);
    assert.equal((await noRoom.json()).error.code, 'SL_LAB_BAD_ROOM');
  });

  test('flood sends size-byte messages at roughly the asked rate, numbered', async () => {
    const rate = 100_000; // bytes/s
    const size = 1000;
    const ws = new WebSocket(`${wsUrl}?room=flood&flood=${rate}&size=${size}`);
    const counters: bigint[] = [];
    let wrongSize = 0;
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary || data.length !== size) wrongSize++;
      counters.push(data.readBigUInt64BE(0));
    });
    await once(ws, 'open');
    const start = counters.length;
    await new Promise((r) => setTimeout(r, 1000));
    const perSecond = counters.length - start;
    await closeWs(ws);
    assert.equal(wrongSize, 0);
    // 100 messages/s expected; timers on a busy 2-core box get ±25% here.
    assert.ok(perSecond >= 75 && perSecond <= 125, `${perSecond} messages in 1 s, expected ~100`);
    assert.deepEqual(
      counters,
      counters.map((_, i) => BigInt(i)),
      'counter increments by one',
    );
  });

  test('flood stays bounded when the client does not read', async () => {
    const small = await startBackend({ nodeId: 'slow', heartbeatIntervalMs: 0, maxBufferedBytes: 1 << 20 });
    try {
      // 50 MB/s asked; the client stops reading at once, so only buffers can absorb anything.
      const ws = new WebSocket(`${small.url.replace('http', 'ws')}/ws?flood=50000000&size=65536`);
      await once(ws, 'open');
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await new Promise((r) => setTimeout(r, 1000));
      const { flood } = small.stats();
      assert.equal(flood.active, 1);
      assert.ok(flood.pausedTicks > 10, `paused ${flood.pausedTicks} ticks`);
      // 1 MiB of user-space buffer plus whatever the loopback socket buffers hold, far below 50 MB.
      assert.ok(flood.bytes < 16 * (1 << 20), `sent ${flood.bytes} bytes`);
      ws.terminate();
    } finally {
      await small.close();
    }
  });

  test('serves the browser client modules and the demo page, not the Node-only swarm', async () => {
    const mod = await fetch(`${backend.url}/client/realtime-client.js`);
    assert.equal(mod.status, 200);
    assert.equal(mod.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const code = await mod.text();
    assert.match(code, /export class RealtimeClient/);
    assert.doesNotMatch(code, /from ['"]node:/);
    // Every served module loads, imports only other served modules, and nothing from node:.
    let imports = 0;
    for (const name of BROWSER_MODULES) {
      const res = await fetch(`${backend.url}/client/${name}`);
      assert.equal(res.status, 200, name);
      const text = await res.text();
      for (const [, spec] of text.matchAll(/^(?:import|export)\b[^;]*?from\s*['"]([^'"]+)['"]/gm)) {
        assert.ok(spec!.startsWith('./') && BROWSER_MODULES.has(spec!.slice(2)), `${name} imports ${spec}`);
        imports += 1;
      }
    }
    assert.ok(imports >= 15, `checked ${imports} import statements`);
    assert.equal((await fetch(`${backend.url}/client/swarm.js`)).status, 404);
    assert.equal((await fetch(`${backend.url}/client/..%2Fbackend%2Fserver.js`)).status, 404);
    const page = await (await fetch(`${backend.url}/`)).text();
    assert.match(page, /import \{ RealtimeClient \} from '\/client\/realtime-client.js'/);
  });

  test('disconnectAll closes sockets with the given code', async () => {
    const ws = await openWs(`${wsUrl}?room=deploy`);
    const closed = once(ws, 'close');
    const res = await fetch(`${backend.url}/admin/disconnect?code=1012&reason=deploy`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).ws, 1);
    const [code, reason] = (await closed) as [number, Buffer];
    assert.equal(code, 1012);
    assert.equal(reason.toString(), 'deploy');
  });
});

describe('backend heartbeat', () => {
  test('terminates a socket that stops answering pings, keeps one that answers', async () => {
    const backend = await startBackend({ nodeId: 'hb', heartbeatIntervalMs: 100, closeGraceMs: 200 });
    try {
      const url = `${backend.url.replace('http', 'ws')}/ws`;
      const deaf = await openWs(url, { autoPong: false });
      const healthy = await openWs(url);
      const [code] = (await once(deaf, 'close')) as [number];
      assert.equal(code, 1006, 'terminated without a close frame');
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(healthy.readyState, WebSocket.OPEN);
      assert.equal(backend.stats().ws.heartbeatTerminated, 1);
      await closeWs(healthy);
    } finally {
      await backend.close();
    }
  });

  test('close() sends 1001 to open sockets and resolves', async () => {
    const backend = await startBackend({ nodeId: 'bye', heartbeatIntervalMs: 0 });
    const ws = await openWs(`${backend.url.replace('http', 'ws')}/ws`);
    const closed = once(ws, 'close');
    await backend.close();
    const [code] = (await closed) as [number];
    assert.equal(code, 1001);
  });
});
