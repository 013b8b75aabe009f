/**
 * permessage-deflate negotiated by a real ws server and a real ws client through the sidecar:
 * the sidecar relays the compressed frames untouched, counts them as messages, and a decoder
 * counts compressed messages without reading them (never as decode errors).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../../helpers/http-server.js';

describe('permessage-deflate through the sidecar (real ws server and client)', () => {
  let server: http.Server;
  let sidecar: TestSidecar;
  const received: Buffer[] = [];
  before(async () => {
    server = http.createServer();
    // With context takeover (ws's default) the server compresses every message it sends.
    const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 1024 } });
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        received.push(data);
        ws.send(data); // echo, compressed again by the server when large enough
      });
    });
    const serverPort = await listenLoopback(server);
    sidecar = await startTestSidecar(serverPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(server);
  });

  it('relays every compressed and uncompressed message byte for byte and counts each once', async () => {
    const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/echo`, { perMessageDeflate: true });
    await once(ws, 'open');
    // The extension was agreed end to end, through the sidecar.
    assert.match(ws.extensions, /permessage-deflate/);
    const sent = [
      Buffer.from('small, sent as is'),
      Buffer.alloc(1023, 0x62),
      Buffer.from('compressible '.repeat(400)), // 5200 bytes of text
      randomBytes(65536), // incompressible, still sent compressed (RSV1 set)
      Buffer.alloc(300_000, 0x7a), // deflates to a few hundred bytes
    ];
    const echoes: Buffer[] = [];
    ws.on('message', (data: Buffer) => echoes.push(data));
    for (const m of sent) ws.send(m);
    await waitUntil(() => echoes.length === sent.length, 10000);
    assert.deepEqual(received, sent);
    assert.deepEqual(echoes, sent);
    ws.close(1000);
    await waitUntil(() => sidecar.logs.length === 1, 5000);

    assert.equal(await sidecar.metric('ws_messages_received_total'), sent.length);
    assert.equal(await sidecar.metric('ws_messages_sent_total'), sent.length);
    assert.equal(await sidecar.metric('ws_protocol_errors_total'), 0);
    // Sizes are payload sizes on the wire: compressed messages are observed at their compressed size.
    assert.equal(await sidecar.metric('ws_message_size_bytes_count', { direction: 'client_to_server' }), 5);
    const wire = await sidecar.metric('ws_message_size_bytes_sum', { direction: 'client_to_server' });
    const plain = sent.reduce((n, m) => n + m.length, 0);
    assert.ok(wire < plain - 300_000, `${wire} bytes on the wire for ${plain} sent`);
    const line = sidecar.logs[0];
    assert.equal(line.compressed, true);
    assert.equal(line.messages_in, sent.length);
    assert.equal(line.messages_out, sent.length);
    assert.equal(line.close_code, 1000);
    assert.equal(line.protocol, undefined); // no decoder claimed it
  });

  /** A graphql-ws app behind its own sidecar, one subscription of three 2000-character results. */
  async function graphqlRun(deflate: {
    threshold: number;
    serverNoContextTakeover?: boolean;
    clientNoContextTakeover?: boolean;
  }) {
    const app = http.createServer();
    const wss = new WebSocketServer({ server: app, perMessageDeflate: deflate });
    const schema = buildSchema('type Query { ok: Boolean } type Subscription { big(n: Int!): String }');
    useServer(
      {
        schema,
        roots: {
          subscription: {
            big: async function* ({ n }: { n: number }) {
              for (let i = 0; i < n; i++) yield { big: `${i}`.padEnd(2000, '.') };
            },
          },
        },
      },
      wss,
    );
    const appPort = await listenLoopback(app);
    const gql = await startTestSidecar(appPort);
    try {
      const c = createClient({
        url: `${gql.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket, // ws offers permessage-deflate by default
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
      });
      const got: string[] = [];
      for await (const r of c.iterate({ query: 'subscription { big(n: 3) }' }))
        got.push((r.data as { big: string }).big);
      assert.deepEqual(
        got.map((r) => r.length),
        [2000, 2000, 2000],
      );
      assert.equal(got[2].slice(0, 2), '2.');
      await c.dispose();
      await waitUntil(() => gql.logs.length === 1, 5000);
      const compressed = (direction: string) =>
        gql.metric('socketlens_protocol_compressed_messages_total', {
          protocol: 'graphql-transport-ws',
          direction,
        });
      const line = gql.logs[0];
      assert.equal(line.protocol, 'graphql-transport-ws');
      assert.equal(line.compressed, true);
      assert.equal(line.messages_out, 5); // ack, 3 next, complete
      assert.equal(line.messages_in, 2); // connection_init, subscribe
      assert.equal(await gql.metric('socketlens_protocol_decode_errors_total'), 0);
      return {
        compressedIn: await compressed('client_to_server'),
        compressedOut: await compressed('server_to_client'),
        acks: await gql.metric('graphql_ws_connection_ack_seconds'),
        completed: await gql.metric('graphql_ws_operations_total', {
          subprotocol: 'graphql-transport-ws',
          outcome: 'complete',
        }),
        firstResults: await gql.metric('graphql_ws_first_result_seconds'),
      };
    } finally {
      await gql.close();
      closeHttpServer(app);
    }
  }

  it('ws defaults (context takeover): every message is compressed, so the decoder counts and reads none', async () => {
    // With context takeover, ws compresses every message whatever its size (its threshold only
    // applies without it): the decoder sees no graphql-ws message at all.
    assert.deepEqual(await graphqlRun({ threshold: 1024 }), {
      compressedIn: 2,
      compressedOut: 5,
      acks: 0,
      completed: 0,
      firstResults: 0,
    });
  });

  it('without context takeover: small messages go plain and are decoded, large ones are counted unread', async () => {
    assert.deepEqual(
      await graphqlRun({ threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true }),
      // The three 2 KB results went compressed (no time to first result); init, subscribe, ack
      // and complete went plain and were read.
      { compressedIn: 0, compressedOut: 3, acks: 1, completed: 1, firstResults: 0 },
    );
  });
});
