/**
 * What EIO=3 (the engine.io protocol of Socket.IO 2 clients) gets from the sidecar, against a real
 * Socket.IO 4 server that accepts it (allowEIO3): no engine.io decoding. Its polling requests are
 * plain HTTP requests, its WebSocket a plain WebSocket whose frames are counted as messages.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import WebSocket from 'ws';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';
import { listenLoopback } from '../../helpers/http-server.js';

describe('EIO=3 (Socket.IO 2 clients) through the sidecar, against socket.io 4 with allowEIO3', () => {
  let server: http.Server;
  let app: Server;
  let sidecar: TestSidecar;
  before(async () => {
    server = http.createServer();
    app = new Server(server, { allowEIO3: true, connectTimeout: 1000 });
    const serverPort = await listenLoopback(server);
    sidecar = await startTestSidecar(serverPort);
  });
  after(async () => {
    await sidecar.close();
    app.close();
    server.closeAllConnections();
  });

  it('the polling handshake is a plain HTTP request: no session, no long-poll, no log line', async () => {
    const res = await fetch(`${sidecar.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    // EIO=3 framing: length-prefixed packets, the open packet first.
    assert.match(body, /^\d+:0\{"sid":"[^"]+"/);
    assert.equal(await sidecar.metric('socketlens_http_requests_total', { transport: 'http' }), 1);
    assert.equal(await sidecar.metric('socketlens_http_requests_total', { transport: 'longpoll' }), 0);
    assert.equal(await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'engineio' }), 0);
    assert.equal(await sidecar.metric('engineio_messages_total'), 0);
    assert.equal(sidecar.logs.length, 0);
  });

  it('its WebSocket is a plain one: every frame a message, no protocol in the log', async () => {
    const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/socket.io/?EIO=3&transport=websocket`);
    const frames: string[] = [];
    ws.on('message', (d: Buffer) => frames.push(d.toString()));
    await waitUntil(() => frames.length === 2, 5000);
    assert.match(frames[0], /^0\{"sid"/); // open
    assert.equal(frames[1], '40'); // Socket.IO CONNECT to "/"
    ws.send('2'); // an EIO=3 client ping: a message like any other here
    await waitUntil(() => frames.length === 3, 5000);
    assert.equal(frames[2], '3');
    ws.close(1000);
    await waitUntil(() => sidecar.logs.length === 1, 5000);
    const line = sidecar.logs[0];
    assert.equal(line.protocol, undefined);
    assert.equal(line.transport, 'websocket');
    assert.equal(line.messages_out, 3);
    assert.equal(line.messages_in, 1);
    assert.equal(await sidecar.metric('engineio_heartbeats_total'), 0);
    assert.equal(await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'engineio' }), 0);
  });
});
