import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../helpers/frames.js';
import { type RawBackend, rawUpgrade, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

/** Frames without a close, so the sequence can repeat on one connection. */
function sequence(mask: boolean): Buffer {
  return Buffer.concat([
    frame({ opcode: Opcode.Text, payload: 'hi', mask }),
    frame({ opcode: Opcode.Binary, payload: 'part-1', fin: false, mask }),
    frame({ opcode: Opcode.Ping, payload: 'ping!', mask }),
    frame({ opcode: Opcode.Continuation, payload: 'part-2', fin: true, mask }),
    frame({ opcode: Opcode.Text, payload: Buffer.alloc(200, 97), mask }),
    frame({ opcode: Opcode.Binary, payload: 'L', long: true, mask }),
  ]);
}
const SEQ_MESSAGES = 4;

describe('relay: byte-identical in both directions', () => {
  let backend: RawBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startRawBackend();
    sidecar = await startTestSidecar(backend.port);
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
  });

  it('relays a frame sequence split at every byte offset, both ways, and counts it exactly', async () => {
    const client = await rawUpgrade(sidecar.port);
    assert.equal(client.status, 101);
    const peer = await backend.next();
    const conn = [...sidecar.ctx.table.connections()][0];
    const up = sequence(true);
    const down = sequence(false);
    const sentUp: Buffer[] = [];
    const sentDown: Buffer[] = [];
    let upTotal = 0;
    let downTotal = 0;
    for (let k = 0; k <= up.length; k++) {
      // First part, then wait until the sidecar has read exactly it, so the split is real.
      client.socket.write(up.subarray(0, k));
      await waitUntil(() => conn.bytesIn() === upTotal + k, 2000, `client bytes at split ${k}`);
      client.socket.write(up.subarray(k));
      sentUp.push(up);
      upTotal += up.length;
      if (k <= down.length) {
        peer.socket.write(down.subarray(0, k));
        await waitUntil(() => conn.bytesOut() === downTotal + k, 2000, `backend bytes at split ${k}`);
        peer.socket.write(down.subarray(k));
        sentDown.push(down);
        downTotal += down.length;
      }
      await waitUntil(
        () => conn.bytesIn() === upTotal && conn.bytesOut() === downTotal,
        2000,
        'whole sequence',
      );
    }
    const allUp = Buffer.concat(sentUp);
    const allDown = Buffer.concat(sentDown);
    await peer.recv.waitFor(allUp.length);
    await client.recv.waitFor(allDown.length);
    assert.ok(peer.recv.bytes.equals(allUp), 'backend received exactly the client bytes');
    assert.ok(client.recv.bytes.equals(allDown), 'client received exactly the backend bytes');
    assert.equal(conn.messagesIn(), sentUp.length * SEQ_MESSAGES);
    assert.equal(conn.messagesOut(), sentDown.length * SEQ_MESSAGES);
    assert.equal(await sidecar.metric('ws_protocol_errors_total'), 0);

    client.socket.write(frame({ opcode: Opcode.Close, payload: closePayload(1000), mask: true }));
    await peer.recv.waitFor(allUp.length + 8);
    peer.socket.end(frame({ opcode: Opcode.Close, payload: closePayload(1000) }));
    await waitUntil(() => sidecar.logs.length === 1, 3000, 'close log');
    assert.equal(sidecar.logs[0].close_code, 1000);
    assert.equal(sidecar.logs[0].initiator, 'client');
    assert.equal(sidecar.logs[0].bytes_in, allUp.length + 8);
    assert.equal(sidecar.logs[0].bytes_out, allDown.length + 4);
  });

  it('relays bytes that arrive together with the 101 and with the upgrade request', async () => {
    const early = frame({ opcode: Opcode.Text, payload: 'early' });
    const b2 = await startRawBackend({ afterHead: early });
    const s2 = await startTestSidecar(b2.port);
    try {
      const client = await rawUpgrade(s2.port);
      await client.recv.waitFor(early.length);
      assert.ok(client.recv.bytes.equals(early));
      const peer = await b2.next();
      const hello = frame({ opcode: Opcode.Text, payload: 'x', mask: true });
      client.socket.write(hello);
      await peer.recv.waitFor(hello.length);
      assert.ok(peer.recv.bytes.equals(hello));
      client.socket.destroy();
    } finally {
      await s2.close();
      await b2.close();
    }
  });

  it('keeps relaying unchanged after the stream breaks the protocol, and counts it once', async () => {
    const client = await rawUpgrade(sidecar.port);
    const peer = await backend.next();
    const bad = Buffer.concat([
      frame({ opcode: 0x3, payload: 'reserved', mask: true }),
      Buffer.from('not frames at all'),
    ]);
    client.socket.write(bad);
    await peer.recv.waitFor(bad.length);
    assert.ok(peer.recv.bytes.equals(bad));
    assert.equal(await sidecar.metric('ws_protocol_errors_total', { direction: 'client_to_server' }), 1);
    client.socket.destroy();
    await waitUntil(() => sidecar.ctx.table.size === 0, 3000, 'connection gone');
  });
});

describe('relay: real ws peers', () => {
  it('keeps permessage-deflate working end to end and counts compressed messages', async () => {
    const backend = await startWsBackend({ perMessageDeflate: true });
    const sidecar = await startTestSidecar(backend.port);
    try {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/ws`, { perMessageDeflate: true });
      await once(ws, 'open');
      assert.match(String(ws.extensions), /permessage-deflate/);
      const got: string[] = [];
      ws.on('message', (d) => got.push(String(d)));
      const texts = ['a'.repeat(2000), 'hello compressed world', JSON.stringify({ n: 1, list: [1, 2, 3] })];
      for (const t of texts) ws.send(t);
      await waitUntil(() => got.length === texts.length, 3000, 'echoes');
      assert.deepEqual(got, texts);
      ws.close(1000);
      await once(ws, 'close');
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close log');
      assert.equal(await sidecar.metric('ws_messages_received_total'), 3);
      assert.equal(await sidecar.metric('ws_messages_sent_total'), 3);
      assert.equal(await sidecar.metric('ws_protocol_errors_total'), 0);
      // Compression shrank the 2000-byte message: fewer bytes relayed than sent as text.
      assert.ok(sidecar.logs[0].bytes_in < 2000, `bytes_in ${sidecar.logs[0].bytes_in}`);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
