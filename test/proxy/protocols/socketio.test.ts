import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

/** A Socket.IO 4 app: echoes "chat" with an ack, pushes two "news" on connect. */
async function startApp(opts: { pingInterval?: number; pingTimeout?: number } = {}) {
  const server = http.createServer();
  const app = new Server(server, {
    pingInterval: opts.pingInterval ?? 25000,
    pingTimeout: opts.pingTimeout ?? 20000,
    // An engine.io session without a Socket.IO CONNECT is dropped after this (its timer would keep the test alive).
    connectTimeout: 1000,
  });
  const disconnects: string[] = [];
  // engine.io closes a polling session that has no GET pending by waiting up to 30 s (not
  // configurable) for one; the test ends such sessions itself so the process can exit.
  const engineSockets = new Set<{ transport: { shouldClose?: () => void } }>();
  app.engine.on('connection', (s) => engineSockets.add(s));
  app.on('connection', (socket) => {
    socket.emit('news', 1);
    socket.emit('news', 2);
    socket.on('chat', (msg: string, ack?: (r: string) => void) => ack?.(`got ${msg}`));
    socket.on('disconnect', (reason) => disconnects.push(reason));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    app,
    disconnects,
    close: async () => {
      for (const s of engineSockets) s.transport.shouldClose?.();
      app.close();
      server.closeAllConnections();
    },
  };
}

function connect(url: string, transports: string[]): Promise<ClientSocket> {
  const c = io(url, { transports, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('connect_error', reject);
  });
}

const news = (c: ClientSocket, n: number) =>
  new Promise<void>((resolve) => {
    let got = 0;
    c.on('news', () => {
      if (++got === n) resolve();
    });
  });

describe('Socket.IO 4 through the sidecar (real socket.io and socket.io-client)', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let sidecar: TestSidecar;
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    await app.close();
  });

  it('polling then WebSocket: one session, one log line, transports in order, events by name', async () => {
    sidecar = await startTestSidecar(app.port);
    try {
      const c = io(sidecar.url, { forceNew: true, reconnection: false });
      const gotNews = news(c, 2);
      await new Promise<void>((r) => c.once('connect', () => r()));
      await gotNews;
      await waitUntil(() => c.io.engine.transport.name === 'websocket', 5000);
      for (let i = 0; i < 3; i++) assert.equal(await c.emitWithAck('chat', `m${i}`), `got m${i}`);
      c.emit('chat', 'no ack');
      const sid = c.io.engine.id;
      // While it lives, /connections shows the WebSocket as a session of its own protocol.
      await waitUntil(
        async () => (await sidecar.metric('socketio_events_total', { event: 'chat' })) === 4,
        5000,
      );
      const live = (await (await fetch(`${sidecar.adminUrl}/connections`)).json()) as {
        connections: Array<Record<string, unknown>>;
      };
      assert.equal(live.connections.length, 1);
      assert.equal(live.connections[0].protocol, 'engineio');
      assert.equal(live.connections[0].session, sid);
      assert.deepEqual(live.connections[0].transports, ['polling', 'websocket']);
      assert.deepEqual(live.connections[0].last_events, ['news', 'chat', 'chat', 'chat', 'chat']);
      await waitUntil(
        async () => (await sidecar.metric('socketio_events_total', { event: 'chat' })) === 4,
        5000,
      );
      c.disconnect();
      await waitUntil(() => sidecar.logs.length > 0, 5000);
      await new Promise((r) => setTimeout(r, 100));

      assert.equal(sidecar.logs.length, 1, JSON.stringify(sidecar.logs));
      const line = sidecar.logs[0];
      assert.equal(line.protocol, 'engineio');
      assert.deepEqual(line.transports, ['polling', 'websocket']);
      assert.equal(line.transport, 'websocket');
      assert.equal(line.reason, 'transport close');
      assert.equal(line.initiator, 'client');
      assert.equal(line.session, sid);
      // Client: CONNECT, 4 chat events, DISCONNECT. Server: CONNECT, 2 news, 3 acks.
      assert.equal(line.messages_in, 6);
      assert.equal(line.messages_out, 6);
      assert.deepEqual(line.last_events, ['news', 'chat', 'chat', 'chat', 'chat']);
      const ev = (direction: string, event: string) =>
        sidecar.metric('socketio_events_total', { direction, namespace: '/', event });
      assert.equal(await ev('client_to_server', 'chat'), 4);
      assert.equal(await ev('server_to_client', 'news'), 2);
      assert.equal(await ev('server_to_client', '__ack__'), 3);
      assert.equal(await ev('client_to_server', 'connect'), 1);
      assert.equal(await ev('server_to_client', 'connect'), 1);
      assert.equal(await ev('client_to_server', 'disconnect'), 1);
      assert.equal(
        await sidecar.metric('engineio_sessions_total', {
          transports: 'polling,websocket',
          reason: 'transport close',
        }),
        1,
      );
      assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
      assert.equal(await sidecar.metric('engineio_sessions_active'), 0);
    } finally {
      await sidecar.close();
    }
  });

  it('polling only: GETs are long-poll waits, POSTs carry the client messages, still one line', async () => {
    sidecar = await startTestSidecar(app.port);
    try {
      const c = await connect(sidecar.url, ['polling']);
      const sid = c.io.engine.id;
      for (let i = 0; i < 2; i++) assert.equal(await c.emitWithAck('chat', `p${i}`), `got p${i}`);
      c.disconnect();
      await waitUntil(() => sidecar.logs.length > 0, 5000);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sidecar.logs.length, 1, JSON.stringify(sidecar.logs));
      const line = sidecar.logs[0];
      assert.equal(line.protocol, 'engineio');
      assert.equal(line.session, sid);
      assert.deepEqual(line.transports, ['polling']);
      assert.equal(line.transport, 'longpoll');
      assert.equal(line.reason, 'transport close');
      assert.equal(line.initiator, 'client');
      // Client: CONNECT, 2 chat, DISCONNECT. Server: CONNECT, 2 news, 2 acks.
      assert.equal(line.messages_in, 4);
      assert.equal(line.messages_out, 5);
      assert.equal(await sidecar.metric('engineio_messages_total', { transport: 'websocket' }), 0);
      assert.equal(
        await sidecar.metric('engineio_sessions_total', { transports: 'polling', reason: 'transport close' }),
        1,
      );
      // Every poll GET with the sid is a long-poll wait; the handshake GET and the POSTs are not.
      const waits = await sidecar.metric('longpoll_wait_duration_seconds');
      const gets = await sidecar.metric('socketlens_http_requests_total', { transport: 'longpoll' });
      assert.equal(waits, gets);
      assert.ok(waits >= 1);
      assert.equal(await sidecar.metric('ws_connections_opened_total'), 0);
    } finally {
      await sidecar.close();
    }
  });

  it('an upgrade stripped on the way (a plain GET transport=websocket, 400) leaves the session on polling, one line', async () => {
    sidecar = await startTestSidecar(app.port);
    try {
      const c = await connect(sidecar.url, ['polling']);
      const sid = c.io.engine.id;
      // What a hop without the Upgrade/Connection pair forwards of the client's upgrade attempt.
      const res = await fetch(`${sidecar.url}/socket.io/?EIO=4&transport=websocket&sid=${sid}`, {
        headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      });
      assert.equal(res.status, 400);
      assert.equal(await res.text(), '{"code":3,"message":"Bad request"}');
      assert.equal(await c.emitWithAck('chat', 'after'), 'got after');
      c.disconnect();
      await waitUntil(() => sidecar.logs.some((l) => l.protocol === 'engineio'), 5000);
      await new Promise((r) => setTimeout(r, 200));
      const sessions = sidecar.logs.filter((l) => l.protocol === 'engineio');
      assert.equal(sessions.length, 1, JSON.stringify(sidecar.logs));
      assert.equal(sessions[0].session, sid);
      assert.deepEqual(sessions[0].transports, ['polling']);
      assert.equal(sessions[0].reason, 'transport close');
      // The stripped attempt is logged as what it is, a failed upgrade.
      assert.deepEqual(
        sidecar.logs.filter((l) => l.protocol === undefined).map((l) => [l.reason, l.status]),
        [['upgrade_stripped', 400]],
      );
      assert.equal(await sidecar.metric('engineio_sessions_total'), 1);
    } finally {
      await sidecar.close();
    }
  });

  it('caps distinct event names: past --label-cap they are __other__ and the overflow is counted', async () => {
    sidecar = await startTestSidecar(app.port, { labelCap: 5 });
    try {
      const c = await connect(sidecar.url, ['websocket']);
      for (let i = 0; i < 12; i++) c.emit(`e${i}`, i);
      c.emit('e0', 'again');
      await waitUntil(
        async () => (await sidecar.metric('socketio_events_total', { direction: 'client_to_server' })) === 14,
        5000,
      );
      const ev = (event: string) =>
        sidecar.metric('socketio_events_total', { direction: 'client_to_server', event });
      // The 5 slots went to connect, the server's news, then e0, e1, e2; e3..e11 are __other__.
      assert.equal(await ev('connect'), 1);
      assert.equal(await ev('e0'), 2);
      assert.equal(await ev('e2'), 1);
      assert.equal(await ev('e3'), 0);
      assert.equal(await ev('__other__'), 9);
      assert.equal(await sidecar.metric('socketlens_label_overflow_total', { label: 'event' }), 9);
      c.disconnect();
      await waitUntil(() => sidecar.logs.length === 1, 5000);
      assert.deepEqual(sidecar.logs[0].transports, ['websocket']);
      assert.equal(sidecar.logs[0].reason, 'transport close');
    } finally {
      await sidecar.close();
    }
  });

  it('a client that stops answering pings: a heartbeat miss by the client and a "ping timeout" session', async () => {
    const quick = await startApp({ pingInterval: 150, pingTimeout: 200 });
    sidecar = await startTestSidecar(quick.port);
    try {
      // A real engine.io handshake over polling, then silence: no pong ever goes back.
      const hs = await fetch(`${sidecar.url}/socket.io/?EIO=4&transport=polling`);
      const open = JSON.parse((await hs.text()).slice(1)) as { sid: string; pingTimeout: number };
      assert.equal(open.pingTimeout, 200);
      const poll = await fetch(`${sidecar.url}/socket.io/?EIO=4&transport=polling&sid=${open.sid}`);
      assert.equal(await poll.text(), '2'); // the server's ping
      await waitUntil(() => sidecar.logs.length === 1, 5000);
      const line = sidecar.logs[0];
      assert.equal(line.session, open.sid);
      assert.equal(line.reason, 'ping timeout');
      assert.equal(line.initiator, 'server');
      assert.deepEqual(line.transports, ['polling']);
      assert.equal(await sidecar.metric('engineio_heartbeat_misses_total', { peer: 'client' }), 1);
      assert.equal(await sidecar.metric('engineio_heartbeat_misses_total', { peer: 'server' }), 0);
      assert.equal(
        await sidecar.metric('engineio_heartbeats_total', { direction: 'server_to_client', packet: 'ping' }),
        1,
      );
      assert.equal(await sidecar.metric('engineio_heartbeats_total', { packet: 'pong' }), 0);
    } finally {
      await sidecar.close();
      await quick.close();
    }
  });
});
