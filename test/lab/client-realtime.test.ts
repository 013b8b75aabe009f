// The fallback-ladder client against the real backend, directly and through a small test front
// that breaks rungs the way hops do (strips the upgrade, holds the SSE response).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { type Backend, startBackend } from '../../lab/backend/server.js';
import type { RealtimeError } from '../../lab/client/errors.js';
import {
  type ClientState,
  RealtimeClient,
  type RealtimeClientOptions,
  type RealtimeMessage,
  type TransportName,
} from '../../lab/client/realtime-client.js';

interface Front {
  url: string;
  close(): Promise<void>;
}

/**
 * A plain HTTP front of the backend: every upgrade gets 426 (as if a hop stripped it); /sse is
 * proxied, or held without a byte when holdSse; everything else is proxied.
 */
async function startFront(
  backend: Backend,
  opts: { holdSse: boolean; holdUpgrade?: boolean },
): Promise<Front> {
  const target = new URL(backend.url);
  const held = new Set<ServerResponse>();
  const heldSockets = new Set<Duplex>();
  const server: Server = createServer((req, res) => {
    if (opts.holdSse && req.url?.startsWith('/sse')) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const up = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode!, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (_req, socket) => {
    if (opts.holdUpgrade) {
      heldSockets.add(socket); // never answer: the client only learns from its own timeout
      socket.on('error', () => {});
      socket.on('close', () => heldSockets.delete(socket));
      return;
    }
    socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const res of held) res.destroy();
      for (const socket of heldSockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A client plus everything its callbacks reported. */
function makeClient(opts: Partial<RealtimeClientOptions> & { baseUrl: string }) {
  const seen = {
    messages: [] as RealtimeMessage[],
    transports: [] as TransportName[],
    states: [] as ClientState[],
    closes: [] as [number, string][],
    errors: [] as [string, TransportName | undefined][],
  };
  const client = new RealtimeClient({
    room: 'ladder',
    WebSocket,
    connectTimeoutMs: 1000,
    pollTimeoutMs: 2000,
    backoff: { strategy: 'fixed', baseMs: 20, capMs: 20, maxRetries: 5 },
    onMessage: (m) => seen.messages.push(m),
    onTransport: (t) => seen.transports.push(t),
    onState: (s) => seen.states.push(s),
    onClose: (code, reason) => seen.closes.push([code, reason]),
    onError: (err: RealtimeError, t) => seen.errors.push([err.code, t]),
    ...opts,
  });
  return { client, seen };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const view = (m: RealtimeMessage) => [m.seq, m.data, m.transport, m.node];

describe('RealtimeClient fallback ladder', () => {
  let backend: Backend;

  before(async () => {
    backend = await startBackend({ nodeId: 'n1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
  });
  after(async () => {
    await backend.close();
  });

  test('against the backend directly it uses websocket, and send() publishes over it', async () => {
    const { client, seen } = makeClient({ baseUrl: backend.url, room: 'direct' });
    assert.equal(await client.connect(), 'websocket');
    assert.equal(client.transport, 'websocket');
    assert.equal(client.state, 'open');
    await client.send({ hello: 'ws' });
    await until(() => seen.messages.length === 1, 'the broadcast');
    assert.deepEqual(seen.messages.map(view), [[1, { hello: 'ws' }, 'websocket', 'n1']]);
    assert.equal(backend.stats().ws.published, 1, 'went over the socket, not POST');
    client.close();
    assert.deepEqual(seen.transports, ['websocket']);
    assert.deepEqual(seen.states, ['connecting', 'open', 'closed']);
    assert.deepEqual(seen.errors, []);
  });

  test('upgrade refused with 426: falls back to sse and receives broadcasts', async () => {
    const front = await startFront(backend, { holdSse: false });
    const { client, seen } = makeClient({ baseUrl: front.url, room: 'sse-room' });
    try {
      assert.equal(await client.connect(), 'sse');
      assert.deepEqual(seen.errors, [['SL_CLIENT_WS_REFUSED', 'websocket']]);
      await backend.publish('sse-room', 'from-backend');
      await client.send('from-client'); // POST /publish through the front
      await until(() => seen.messages.length === 2, 'two broadcasts');
      assert.deepEqual(seen.messages.map(view), [
        [1, 'from-backend', 'sse', 'n1'],
        [2, 'from-client', 'sse', 'n1'],
      ]);
      assert.equal(backend.stats().http.published, 1);
    } finally {
      client.close();
      await front.close();
    }
  });

  test('an upgrade that is held without an answer times out, then sse is used', async () => {
    const front = await startFront(backend, { holdSse: false, holdUpgrade: true });
    const { client, seen } = makeClient({ baseUrl: front.url, room: 'held-ws', connectTimeoutMs: 300 });
    try {
      const started = performance.now();
      assert.equal(await client.connect(), 'sse');
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 3000, `waited the WebSocket connect timeout, took ${elapsed} ms`);
      assert.deepEqual(seen.errors, [['SL_CLIENT_CONNECT_TIMEOUT', 'websocket']]);
    } finally {
      client.close();
      await front.close();
    }
  });

  test('SSE held by a hop too: falls back to long-poll and still receives', async () => {
    const front = await startFront(backend, { holdSse: true });
    const { client, seen } = makeClient({ baseUrl: front.url, room: 'poll-room', connectTimeoutMs: 300 });
    try {
      const started = performance.now();
      assert.equal(await client.connect(), 'longpoll');
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 3000, `waited the SSE connect timeout, took ${elapsed} ms`);
      assert.deepEqual(seen.errors, [
        ['SL_CLIENT_WS_REFUSED', 'websocket'],
        ['SL_CLIENT_CONNECT_TIMEOUT', 'sse'],
      ]);
      await new Promise((r) => setTimeout(r, 50)); // let the first waiting poll reach the backend
      await backend.publish('poll-room', { n: 1 });
      await client.send({ n: 2 });
      await until(() => seen.messages.length === 2, 'two broadcasts');
      assert.deepEqual(seen.messages.map(view), [
        [1, { n: 1 }, 'longpoll', 'n1'],
        [2, { n: 2 }, 'longpoll', 'n1'],
      ]);
      assert.deepEqual(seen.transports, ['longpoll']);
    } finally {
      client.close();
      await front.close();
    }
  });

  test('after a server close it reconnects and resumes after the last seq: no gap, no duplicate', async () => {
    const { client, seen } = makeClient({
      baseUrl: backend.url,
      room: 'resume',
      backoff: { strategy: 'fixed', baseMs: 150, capMs: 150, maxRetries: 5 },
    });
    try {
      await client.connect();
      await backend.publish('resume', 'a');
      await until(() => seen.messages.length === 1, 'first message');
      backend.disconnectAll(1012, 'restart');
      await until(() => seen.closes.length === 1, 'the close');
      assert.deepEqual(seen.closes, [[1012, 'restart']]);
      assert.equal(client.state, 'reconnecting');
      await backend.publish('resume', 'b'); // while the client is away
      await until(() => seen.transports.length === 2, 'reconnected');
      await backend.publish('resume', 'c');
      await until(() => seen.messages.length === 3, 'three messages');
      assert.deepEqual(
        seen.messages.map((m) => [m.seq, m.data]),
        [
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ],
      );
      assert.equal(client.lastSeq, 3);
    } finally {
      client.close();
    }
  });

  test('nothing answers: every rung fails each round, then it gives up after maxRetries', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r)); // a port with nobody listening: connection refused
    const { client, seen } = makeClient({
      baseUrl: `http://127.0.0.1:${port}`,
      backoff: { strategy: 'fixed', baseMs: 10, capMs: 10, maxRetries: 2 },
    });
    await assert.rejects(client.connect(), { code: 'SL_CLIENT_GAVE_UP' });
    const round = [
      ['SL_CLIENT_WS_REFUSED', 'websocket'],
      ['SL_CLIENT_NETWORK', 'sse'],
      ['SL_CLIENT_NETWORK', 'longpoll'],
    ];
    assert.deepEqual(seen.errors, [...round, ...round, ...round, ['SL_CLIENT_GAVE_UP', undefined]]);
    assert.equal(client.state, 'closed');
    assert.deepEqual(seen.states, [
      'connecting',
      'reconnecting',
      'connecting',
      'reconnecting',
      'connecting',
      'closed',
    ]);
  });
});
