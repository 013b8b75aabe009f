import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../../helpers/http-server.js';

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

describe('graphql-ws through the sidecar (real graphql-ws, graphql and ws)', () => {
  let server: http.Server;
  let sidecar: TestSidecar;
  before(async () => {
    server = http.createServer();
    const wss = new WebSocketServer({ server });
    useServer(
      {
        schema,
        roots,
        onConnect: (ctx) => (ctx.connectionParams as { token?: string } | undefined)?.token !== 'bad',
      },
      wss,
    );
    const serverPort = await listenLoopback(server);
    sidecar = await startTestSidecar(serverPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(server);
  });

  const client = (token = 'ok'): Client =>
    createClient({
      url: `${sidecar.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
      connectionParams: { token },
    });

  it('operations by outcome, first-result and ack times, nothing active at the end', async () => {
    const c = client();
    const counts: number[] = [];
    for await (const r of c.iterate({ query: 'subscription { count(to: 3) }' }))
      counts.push((r.data as { count: number }).count);
    assert.deepEqual(counts, [1, 2, 3]);
    for await (const r of c.iterate({ query: '{ hello }' })) assert.deepEqual(r.data, { hello: 'world' });
    await assert.rejects(async () => {
      for await (const _ of c.iterate({ query: '{ nope }' })) {
        // no result: the server answers with an error message
      }
    });
    for await (const _ of c.iterate({ query: 'subscription { count(to: 1000) }' })) break; // the client cancels
    await waitUntil(
      async () => (await sidecar.metric('graphql_ws_operations_total', { outcome: 'cancelled' })) === 1,
      5000,
    );
    await c.dispose();
    await waitUntil(() => sidecar.logs.length === 1, 5000);

    const op = (outcome: string) =>
      sidecar.metric('graphql_ws_operations_total', { subprotocol: 'graphql-transport-ws', outcome });
    assert.equal(await op('complete'), 2);
    assert.equal(await op('error'), 1);
    assert.equal(await op('cancelled'), 1);
    assert.equal(await op('connection_closed'), 0);
    assert.equal(await sidecar.metric('graphql_ws_operations_active'), 0);
    // Results came for the subscription, the query and the cancelled subscription; not for the error.
    assert.equal(await sidecar.metric('graphql_ws_first_result_seconds'), 3);
    assert.equal(await sidecar.metric('graphql_ws_connection_ack_seconds'), 1);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
    assert.equal(
      await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'graphql-transport-ws' }),
      1,
    );
    assert.equal(sidecar.logs[0].protocol, 'graphql-transport-ws');
  });

  it('a connection the server refuses (onConnect false) is a 4403 rejection', async () => {
    const c = client('bad');
    await assert.rejects(async () => {
      for await (const _ of c.iterate({ query: '{ hello }' })) {
        // refused before any result
      }
    });
    await waitUntil(() => sidecar.logs.length === 2, 5000);
    assert.equal(
      await sidecar.metric('graphql_ws_rejections_total', {
        subprotocol: 'graphql-transport-ws',
        code: '4403',
      }),
      1,
    );
    assert.equal(sidecar.logs[1].close_code, 4403);
    // The client holds its subscribe until the ack, so no operation reached the server.
    assert.equal(await sidecar.metric('graphql_ws_operations_total', { outcome: 'connection_closed' }), 0);
    assert.equal(await sidecar.metric('graphql_ws_operations_active'), 0);
    await c.dispose();
  });

  it('an operation still open when the client drops the connection ends as connection_closed', async () => {
    const c = client();
    for await (const _ of c.iterate({ query: 'subscription { count(to: 1000) }' })) {
      c.terminate(); // closes the socket at once (4499), the subscription still running
      break;
    }
    await waitUntil(() => sidecar.logs.length === 3, 5000);
    assert.equal(await sidecar.metric('graphql_ws_operations_total', { outcome: 'connection_closed' }), 1);
    assert.equal(await sidecar.metric('graphql_ws_operations_active'), 0);
    // Closed by the client: not a rejection.
    assert.equal(await sidecar.metric('graphql_ws_rejections_total'), 1);
    await c.dispose();
  });
});

describe('graphql-ws decoder: the legacy subscriptions-transport-ws protocol', () => {
  it('start/data/stop/complete of the legacy protocol', async () => {
    const { createContext } = await import('../../../proxy/context.js');
    const { sidecarConfig } = await import('../../../proxy/config/sidecar-options.js');
    const { GraphqlWsDecoder } = await import('../../../proxy/protocols/graphql-ws.js');
    const ctx = createContext(sidecarConfig({ target: 'http://127.0.0.1:1', log: 'off' }));
    let t = 0;
    const d = new GraphqlWsDecoder(ctx, 'graphql-ws', () => t);
    const send = (fromClient: boolean, json: string) => {
      const sink = fromClient ? d.c2s : d.s2c;
      const n = sink.prefix.write(json, 'latin1');
      sink.onMessage(1, n, n, false);
    };
    send(true, '{"type":"connection_init","payload":{}}');
    t = 5;
    send(false, '{"type":"connection_ack"}');
    send(false, '{"type":"ka"}');
    send(true, '{"id":"1","type":"start","payload":{"query":"subscription { a }"}}');
    send(true, '{"id":"2","type":"start","payload":{"query":"subscription { b }"}}');
    t = 25;
    send(false, '{"id":"1","type":"data","payload":{"data":{"a":1}}}');
    send(false, '{"id":"1","type":"complete"}');
    send(true, '{"id":"2","type":"stop"}');
    send(false, '{"id":"2","type":"complete"}'); // legacy servers confirm a stop: not a second outcome
    send(false, 'not json');
    const v = (name: string, labels: Record<string, string> = {}) =>
      ctx.metrics.value(name, { subprotocol: 'graphql-ws', ...labels });
    assert.equal(await v('graphql_ws_operations_total', { outcome: 'complete' }), 1);
    assert.equal(await v('graphql_ws_operations_total', { outcome: 'cancelled' }), 1);
    assert.equal(await v('graphql_ws_operations_active'), 0);
    assert.equal(await v('graphql_ws_first_result_seconds_sum'), 0.02);
    assert.equal(await v('graphql_ws_connection_ack_seconds_sum'), 0.005);
    assert.equal(
      await ctx.metrics.value('socketlens_protocol_decode_errors_total', { protocol: 'graphql-ws' }),
      1,
    );
    ctx.protocols.stop();
  });
});
