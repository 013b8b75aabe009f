// The protocols board against the real Prometheus: real Socket.IO 4 and graphql-ws apps behind
// one sidecar, a real SSE library (sse-starlette) behind another, both scraped; every panel query
// of the board returns data, and the series it reads carry the exact counts of that traffic.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { Server as SocketIoServer } from 'socket.io';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws';
import { PROTOCOLS_UID } from '../../dashboards/src/protocols.js';
import { listPanelQueries } from '../../dashboards/src/queries.js';
import { type PrometheusServer, startPrometheus } from '../../lab/runner/components/prometheus.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const SSE_APP = fileURLToPath(
  new URL('../../../test/proxy/protocols/servers/sse_events_app.py', import.meta.url),
);

const schema = buildSchema('type Query { hello: String } type Subscription { count(to: Int!): Int }');
const roots = {
  query: { hello: () => 'world' },
  subscription: {
    count: async function* ({ to }: { to: number }) {
      for (let i = 1; i <= to; i++) {
        yield { count: i };
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  },
};

describe('the protocols board on a live Prometheus', { timeout: 90_000 }, () => {
  let app: http.Server;
  let io: SocketIoServer;
  let broker: Aedes;
  let sse: ChildProcess;
  let appSidecar: TestSidecar;
  let sseSidecar: TestSidecar;
  let prom: PrometheusServer;
  let start = 0;
  let end = 0;

  before(async () => {
    // One Node app: Socket.IO at /socket.io/ (heartbeats every 200 ms), graphql-ws at /graphql,
    // an MQTT broker (aedes) at /mqtt that refuses the user "intruder".
    app = http.createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    io = new SocketIoServer(app, { pingInterval: 200, pingTimeout: 1000 });
    io.on('connection', (s) => {
      s.on('chat', (_m: unknown, ack?: (r: string) => void) => ack?.('ok'));
    });
    io.of('/admin').on('connection', (s) => s.on('stats', () => s.emit('stats', { users: 1 })));
    const wss = new WebSocketServer({ noServer: true });
    useServer({ schema, roots }, wss);
    broker = await Aedes.createBroker();
    broker.authenticate = (_client, username, _password, done) => {
      if (username === 'intruder') {
        const err = Object.assign(new Error('bad credentials'), { returnCode: 4 });
        done(err as Parameters<typeof done>[0], false);
      } else done(null, true);
    };
    const mqttWss = new WebSocketServer({ noServer: true });
    mqttWss.on('connection', (ws) => broker.handle(createWebSocketStream(ws) as never));
    app.on('upgrade', (req, socket, head) => {
      if (req.url?.startsWith('/graphql'))
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      else if (req.url?.startsWith('/mqtt'))
        mqttWss.handleUpgrade(req, socket, head, (ws) => mqttWss.emit('connection', ws, req));
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    appSidecar = await startTestSidecar((app.address() as AddressInfo).port);

    sse = spawn('python3', [SSE_APP], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(createInterface({ input: sse.stdout! }), 'line');
    const ssePort = Number(line);
    await waitUntil(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${ssePort}/none`)).status === 404;
      } catch {
        return false;
      }
    }, 10_000);
    sseSidecar = await startTestSidecar(ssePort);

    const admin = (s: TestSidecar) => new URL(s.adminUrl!).host;
    prom = await startPrometheus({ targets: [admin(appSidecar), admin(sseSidecar)] });
    await waitUntil(
      async () => (await prom.query('count(up == 1)')).some((s) => Number(s.value[1]) === 2),
      20_000,
      'both sidecars scraped',
    );
    start = Math.floor(Date.now() / 1000) - 1;

    // Socket.IO: one client that upgrades, one held on polling (as behind a stripping edge).
    const base = appSidecar.url;
    const connect = (s: Socket) =>
      new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
    const upgraded = ioClient(base, { reconnection: false });
    const polling = ioClient(base, { reconnection: false, transports: ['polling'] });
    const adminNs = ioClient(`${base}/admin`, { reconnection: false });
    await Promise.all([connect(upgraded), connect(polling), connect(adminNs)]);
    await waitUntil(() => upgraded.io.engine.transport.name === 'websocket', 5000, 'upgrade');
    for (let i = 0; i < 3; i++) await upgraded.emitWithAck('chat', `hello ${i}`);
    for (let i = 0; i < 2; i++) await polling.emitWithAck('chat', `poll ${i}`);
    await new Promise<void>((resolve) => {
      adminNs.once('stats', () => resolve());
      adminNs.emit('stats');
    });
    // A few heartbeats (every 200 ms) on both sessions.
    await new Promise((r) => setTimeout(r, 700));
    upgraded.disconnect();
    polling.disconnect();
    adminNs.disconnect();

    // graphql-ws: a subscription to its end, a query, and one the client cancels.
    const gql = createClient({
      url: `${base.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    for await (const _ of gql.iterate({ query: 'subscription { count(to: 3) }' })) {
      // three results
    }
    for await (const _ of gql.iterate({ query: '{ hello }' })) {
      // one result
    }
    for await (const _ of gql.iterate({ query: 'subscription { count(to: 1000) }' })) break;
    await gql.dispose();

    // MQTT: a client that subscribes, publishes twice and pings (keep-alive 1 s), and one refused.
    const mqttUrl = `${base.replace('http', 'ws')}/mqtt`;
    const sensor = mqtt.connect(mqttUrl, { protocolVersion: 4, keepalive: 1, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      sensor.once('connect', () => resolve());
      sensor.once('error', reject);
    });
    await sensor.subscribeAsync('plant/+/temp', { qos: 1 });
    await sensor.publishAsync('plant/a/temp', '21.5', { qos: 1 });
    await sensor.publishAsync('plant/b/temp', '19.0', { qos: 0 });
    await new Promise<void>((resolve) =>
      sensor.on('packetreceive', (p) => {
        if (p.cmd === 'pingresp') resolve();
      }),
    );
    await sensor.endAsync();
    const intruder = mqtt.connect(mqttUrl, {
      protocolVersion: 4,
      username: 'intruder',
      password: 'x',
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve) => intruder.once('error', () => resolve()));
    intruder.end(true);

    // SSE: one stream of 10 events with keep-alive comments, and one resumed after event 7.
    await (await fetch(`${sseSidecar.url}/events`)).text();
    await (await fetch(`${sseSidecar.url}/events`, { headers: { 'last-event-id': '7' } })).text();

    await waitUntil(
      async () => appSidecar.logs.length >= 6 && sseSidecar.logs.length === 2,
      10_000,
      'every session and stream logged',
    );
    // Three scrapes after the last event, so every rate window holds it.
    await new Promise((r) => setTimeout(r, 3500));
    end = Math.ceil(Date.now() / 1000) + 1;
  });

  after(async () => {
    await prom?.stop();
    await appSidecar?.close();
    await sseSidecar?.close();
    io?.close();
    app?.closeAllConnections();
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    if (sse && sse.exitCode === null) {
      const exited = once(sse, 'exit');
      sse.kill('SIGTERM');
      await exited;
    }
  });

  /** Sample values keyed by their label values, in label-name order. */
  const values = async (expr: string) =>
    Object.fromEntries(
      (await prom.query(expr)).map((s) => [
        Object.keys(s.metric)
          .sort()
          .map((k) => s.metric[k])
          .join(' '),
        Number(s.value[1]),
      ]),
    );

  it('every panel query of the protocols board returns data', async () => {
    const queries = listPanelQueries().filter((q) => q.dashboard === PROTOCOLS_UID);
    assert.equal(queries.length, 25);
    const empty: string[] = [];
    for (const q of queries) {
      const series = await prom.queryRange(q.expr, start, end, 1);
      if (series.length === 0) empty.push(`${q.panel}: ${q.expr}`);
    }
    assert.deepEqual(empty, []);
  });

  it('the series behind it carry the exact counts of the traffic', async () => {
    // Two sessions: one upgraded, one held on polling. The client multiplexes /admin over the
    // first one's engine.io session (one Manager per origin), so it adds no session.
    assert.deepEqual(await values('sum by (transports) (engineio_sessions_total)'), {
      polling: 1,
      'polling,websocket': 1,
    });
    assert.deepEqual(
      await values(
        'sum by (namespace, event, direction) (socketio_events_total{event=~"chat|stats|__ack__"})',
      ),
      {
        'client_to_server chat /': 5,
        'server_to_client __ack__ /': 5,
        'client_to_server stats /admin': 1,
        'server_to_client stats /admin': 1,
      },
    );
    assert.deepEqual(await values('sum by (outcome) (graphql_ws_operations_total)'), {
      complete: 2,
      cancelled: 1,
      error: 0,
      connection_closed: 0,
    });
    assert.deepEqual(await values('sum(graphql_ws_first_result_seconds_count)'), { '': 3 });
    assert.deepEqual(await values('sum(sse_events_sent_total)'), { '': 13 });
    assert.deepEqual(await values('sum(sse_streams_resumed_total)'), { '': 1 });
    const comments = Number((await prom.query('sum(sse_comments_total)'))[0]?.value[1]);
    assert.ok(comments >= 2, `keep-alive comments: ${comments}`);
    assert.deepEqual(await values('sum by (reason) (mqtt_connack_refusals_total)'), {
      bad_user_name_or_password: 1,
    });
    const mqttIn = await values('sum by (type) (mqtt_packets_total{direction="client_to_server"})');
    assert.equal(mqttIn.connect, 2);
    assert.equal(mqttIn.subscribe, 1);
    assert.equal(mqttIn.publish, 2);
    assert.ok(mqttIn.pingreq >= 1, JSON.stringify(mqttIn));
    const pings = await values('sum by (packet) (engineio_heartbeats_total)');
    assert.ok(pings.ping >= 3 && pings.pong >= 3, JSON.stringify(pings));
  });
});
