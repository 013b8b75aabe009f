/**
 * Malformed HTTP around the upgrade: garbage pipelined in the same packet as the upgrade
 * request, and requests that arrive one byte at a time (slowloris, and a slow but legal client).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../helpers/frames.js';
import { type RawBackend, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { type FaultBackend, startFaultBackend } from './lib/fault-backend.js';
import { decodeFrames, rawClient, sleep, splitHead, upgradeRequest } from './lib/wire.js';

// Not frames a client may send: 'G' = 0x47 sets RSV1 (no extension negotiated) and has no mask.
const GARBAGE = Buffer.from('GET /second HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage');

describe('garbage pipelined after the upgrade request', () => {
  let raw: RawBackend;
  let rawSidecar: TestSidecar;
  let echo: FaultBackend;
  let echoSidecar: TestSidecar;
  before(async () => {
    raw = await startRawBackend();
    rawSidecar = await startTestSidecar(raw.port);
    echo = await startFaultBackend();
    echoSidecar = await startTestSidecar(echo.port);
  });
  after(async () => {
    await rawSidecar.close();
    await raw.close();
    await echoSidecar.close();
    await echo.close();
  });

  it('relays the garbage unchanged after the 101 and counts one protocol error', async () => {
    const c = await rawClient(rawSidecar.port);
    c.socket.write(Buffer.concat([Buffer.from(upgradeRequest(rawSidecar.port)), GARBAGE]));
    const peer = await raw.next();
    await peer.recv.waitFor(GARBAGE.length);
    assert.ok(peer.recv.bytes.equals(GARBAGE));
    await waitUntil(() => splitHead(c.received()) !== null, 3000, '101');
    assert.match(splitHead(c.received())!.head, /^HTTP\/1\.1 101 /);
    assert.equal(await rawSidecar.metric('ws_protocol_errors_total', { direction: 'client_to_server' }), 1);
    assert.equal(await rawSidecar.metric('ws_protocol_errors_total', { direction: 'server_to_client' }), 0);
    // The relay keeps going after the broken stream.
    const more = Buffer.from('still relayed');
    c.socket.write(more);
    await peer.recv.waitFor(GARBAGE.length + more.length);
    assert.ok(peer.recv.bytes.subarray(GARBAGE.length).equals(more));
    c.socket.destroy();
    await waitUntil(() => rawSidecar.ctx.table.size === 0, 3000, 'connection gone');
    assert.equal(rawSidecar.logs.length, 1);
    assert.equal(rawSidecar.logs[0].reason, 'client_disconnect');
  });

  it('a real ws backend refuses the garbage with 1002; the client gets that close and the log says so', async () => {
    const c = await rawClient(echoSidecar.port);
    c.socket.write(Buffer.concat([Buffer.from(upgradeRequest(echoSidecar.port)), GARBAGE]));
    assert.equal(await c.closed, null);
    const parts = splitHead(c.received());
    assert.ok(parts);
    assert.match(parts.head, /^HTTP\/1\.1 101 /);
    const frames = decodeFrames(parts.rest);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, Opcode.Close);
    assert.equal(frames[0].payload.readUInt16BE(0), 1002);
    await waitUntil(() => echoSidecar.logs.length === 1, 3000, 'close log');
    const rec = echoSidecar.logs[0];
    assert.deepEqual(
      [rec.close_code, rec.initiator, rec.reason, rec.bytes_in],
      [1002, 'server', 'server_close', GARBAGE.length],
    );
    assert.equal(await echoSidecar.metric('ws_protocol_errors_total', { direction: 'client_to_server' }), 1);
    assert.equal(await echoSidecar.metric('ws_close_total', { code: '1002', initiator: 'server' }), 1);
    await waitUntil(() => echo.openSockets() === 0, 3000, 'backend socket closed');
  });

  it('drops garbage that follows an upgrade the backend rejects, and relays the rejection', async () => {
    const c = await rawClient(echoSidecar.port);
    c.socket.write(Buffer.concat([Buffer.from(upgradeRequest(echoSidecar.port, '/reject')), GARBAGE]));
    assert.equal(await c.closed, null);
    assert.equal(
      c.received().toString('latin1'),
      'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(
      await echoSidecar.metric('ws_handshake_failures_total', {
        reason: 'upstream_rejected',
        status_class: '4xx',
      }),
      1,
    );
  });

  it('a garbage request line pipelined before anything valid gets 400 and no backend contact', async () => {
    const before = echo.upgrades.size;
    const c = await rawClient(echoSidecar.port);
    c.socket.write(Buffer.concat([Buffer.from('\x16\x03\x01\x00\xa5 not http\r\n\r\n'), GARBAGE]));
    assert.equal(await c.closed, null);
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 400 /);
    assert.equal(await echoSidecar.metric('socketlens_client_errors_total', { reason: 'bad_request' }), 1);
    assert.equal(echo.upgrades.size, before);
  });

  it('still proxies a clean session afterwards', async () => {
    const c = await rawClient(echoSidecar.port);
    const msg = frame({ opcode: Opcode.Text, payload: 'hello', mask: true });
    c.socket.write(Buffer.concat([Buffer.from(upgradeRequest(echoSidecar.port)), msg]));
    await waitUntil(
      () => decodeFrames(splitHead(c.received())?.rest ?? Buffer.alloc(0)).length === 1,
      3000,
      'echo',
    );
    const [echoed] = decodeFrames(splitHead(c.received())!.rest);
    assert.equal(echoed.payload.toString(), 'hello');
    c.socket.write(frame({ opcode: Opcode.Close, payload: closePayload(1000), mask: true }));
    assert.equal(await c.closed, null);
    await waitUntil(() => echoSidecar.ctx.table.size === 0, 3000, 'connection gone');
  });
});

/** Writes `text` one byte per TCP segment, `gapMs` apart; stops early when the socket closes. */
async function dribble(c: Awaited<ReturnType<typeof rawClient>>, text: string, gapMs: number) {
  for (let i = 0; i < text.length; i++) {
    if (c.socket.destroyed || c.ended()) return i;
    c.socket.write(text[i]);
    await sleep(gapMs);
  }
  return text.length;
}

describe('a request head sent one byte at a time', () => {
  it('slower than --request-timeout: 408, counted as a timeout, the backend never sees it', async () => {
    const backend = await startFaultBackend();
    const sidecar = await startTestSidecar(backend.port, { requestTimeout: 600 });
    try {
      const c = await rawClient(sidecar.port);
      const req = upgradeRequest(sidecar.port);
      const t0 = Date.now();
      // 25 ms a byte: the ~150-byte head would take ~4 s.
      const sent = await dribble(c, req, 25);
      assert.equal(await c.closed, null);
      const took = Date.now() - t0;
      assert.ok(sent < req.length, `sent the whole head (${sent} bytes)`);
      assert.ok(took >= 550 && took < 2000, `closed after ${took} ms`);
      assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 408 /);
      // Counted once, as the client error it is: the head never completed, so it never became
      // a handshake (and the client's reset after our 408 is not a second event).
      assert.equal(await sidecar.metric('socketlens_client_errors_total', { reason: 'timeout' }), 1);
      assert.equal(await sidecar.metric('socketlens_client_errors_total'), 1);
      assert.equal(await sidecar.metric('ws_handshake_failures_total'), 0);
      assert.equal(backend.upgrades.size, 0);
      assert.equal(backend.openSockets(), 0);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('fast enough: the upgrade and the relay work normally', async () => {
    const backend = await startFaultBackend();
    const sidecar = await startTestSidecar(backend.port, { requestTimeout: 3000 });
    try {
      const c = await rawClient(sidecar.port);
      const req = upgradeRequest(sidecar.port);
      const t0 = Date.now();
      assert.equal(await dribble(c, req, 2), req.length);
      const took = Date.now() - t0;
      await waitUntil(() => splitHead(c.received()) !== null, 3000, '101');
      assert.match(splitHead(c.received())!.head, /^HTTP\/1\.1 101 /);
      // The frame goes byte by byte too.
      const msg = frame({ opcode: Opcode.Text, payload: 'slow but fine', mask: true });
      for (const b of msg) {
        c.socket.write(Buffer.from([b]));
        await sleep(1);
      }
      await waitUntil(() => decodeFrames(splitHead(c.received())!.rest).length === 1, 3000, 'echo');
      assert.equal(decodeFrames(splitHead(c.received())!.rest)[0].payload.toString(), 'slow but fine');
      assert.equal(await sidecar.metric('socketlens_client_errors_total'), 0);
      assert.equal(await sidecar.metric('ws_connections_opened_total'), 1);
      assert.equal(await sidecar.metric('ws_messages_received_total'), 1);
      assert.ok(took < 3000, `head took ${took} ms`);
      c.socket.write(frame({ opcode: Opcode.Close, payload: closePayload(1000), mask: true }));
      assert.equal(await c.closed, null);
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close log');
      assert.deepEqual([sidecar.logs[0].close_code, sidecar.logs[0].reason], [1000, 'client_close']);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
