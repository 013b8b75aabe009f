import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const INTERVAL = 300;
const MISSES = 2;

describe('active heartbeat', () => {
  it('terminates a client that never answers pings after interval × misses, and tells the backend', async () => {
    const backend = await startWsBackend();
    const sidecar = await startTestSidecar(backend.port, {
      heartbeatInterval: INTERVAL,
      heartbeatMisses: MISSES,
    });
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      const server = await backend.next();
      const serverClose = once(server, 'close');
      // The raw client reads but never answers: note when the first ping arrives.
      let firstPingAt = 0;
      let pings = 0;
      client.socket.on('data', (c: Buffer) => {
        if ((c[0] & 0x0f) === Opcode.Ping) {
          pings++;
          if (firstPingAt === 0) firstPingAt = performance.now();
        }
      });
      const closed = once(client.socket, 'close');
      await closed;
      const endedAfter = performance.now() - firstPingAt;
      const [code] = await serverClose;
      assert.equal(code, 1001);
      assert.equal(pings, MISSES);
      // Tolerance: one tick of the shared timer (interval / 10) plus scheduling slack.
      assert.ok(
        endedAfter >= INTERVAL * MISSES - 40 && endedAfter <= INTERVAL * MISSES + 150,
        `ended ${Math.round(endedAfter)} ms after the first ping`,
      );
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close log');
      assert.equal(sidecar.logs[0].reason, 'heartbeat_timeout');
      assert.equal(sidecar.logs[0].initiator, 'proxy');
      assert.equal(sidecar.logs[0].close_code, 1001);
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' }), MISSES);
      assert.equal(await sidecar.metric('ws_close_total', { code: '1001', initiator: 'proxy' }), 1);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('injects pings only between frames and swallows the answering pongs, in both directions', async () => {
    const backend = await startWsBackend({ echo: false });
    const sidecar = await startTestSidecar(backend.port, {
      heartbeatInterval: 60,
      heartbeatMisses: 50,
      heartbeatUpstream: true,
    });
    try {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/ws`);
      await once(ws, 'open');
      const server = await backend.next();
      let clientPings = 0;
      let clientPongs = 0;
      let serverPings = 0;
      let serverPongs = 0;
      ws.on('ping', () => clientPings++);
      ws.on('pong', () => clientPongs++);
      server.on('ping', () => serverPings++);
      server.on('pong', () => serverPongs++);
      const received: Buffer[] = [];
      ws.on('message', (d) => received.push(d as Buffer));
      const errors: Error[] = [];
      ws.on('error', (e) => errors.push(e));
      server.on('error', (e) => errors.push(e));

      // Phase 1: the backend streams large fragmented messages; the client is quiet, so the
      // sidecar pings it in between the backend's frames.
      const piece = Buffer.alloc(256 * 1024, 7);
      const MSGS = 8;
      for (let m = 0; m < MSGS; m++) {
        for (let f = 0; f < 4; f++) server.send(piece, { binary: true, fin: f === 3 });
        await new Promise((r) => setTimeout(r, 40));
      }
      await waitUntil(() => received.length === MSGS, 5000, 'messages at the client');
      await waitUntil(() => clientPings >= 2, 3000, 'pings at the client');
      // Phase 2: the client streams, the backend is quiet and gets pinged.
      const got: Buffer[] = [];
      server.on('message', (d) => got.push(d as Buffer));
      for (let m = 0; m < MSGS; m++) {
        for (let f = 0; f < 4; f++) ws.send(piece, { binary: true, fin: f === 3 });
        await new Promise((r) => setTimeout(r, 40));
      }
      await waitUntil(() => got.length === MSGS, 5000, 'messages at the backend');
      await waitUntil(() => serverPings >= 2, 3000, 'pings at the backend');

      for (const d of [...received, ...got]) {
        assert.equal(d.length, 4 * piece.length);
        assert.ok(d.every((b) => b === 7));
      }
      // Our pongs never reached the other end, and nothing broke the framing.
      assert.equal(serverPongs, 0);
      assert.equal(clientPongs, 0);
      assert.deepEqual(errors, []);
      assert.equal(await sidecar.metric('ws_protocol_errors_total'), 0);
      // No miss count is asserted: with a 60 ms interval, a loaded machine can delay a pong past
      // it, which is a real miss. What matters here is that no connection was cut for it.
      assert.equal(ws.readyState, WebSocket.OPEN);
      ws.close(1000);
      await once(ws, 'close');
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
