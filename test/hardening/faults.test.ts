/**
 * Faults on either side of a relayed connection, against the sidecar as a child process. For each:
 * the other side is closed properly, the close log records the right reason, and the sidecar's
 * open file descriptors return to their baseline (read from /proc/<pid>/fd).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { frame } from '../helpers/frames.js';
import { type RawBackend, startRawBackend, waitUntil } from '../helpers/raw.js';
import { type SidecarChild, spawnSidecar } from '../helpers/sidecar-child.js';
import { type FaultBackend, startFaultBackend } from './lib/fault-backend.js';
import { decodeFrames, type RawClient, rawClient, splitHead, upgradeRequest } from './lib/wire.js';

/** Waits until the sidecar holds exactly `base` fds and relays nothing; returns the last log line. */
async function settled(sc: SidecarChild, base: number, logs: number): Promise<CloseRecord> {
  await waitUntil(() => sc.logCount() === logs, 5000, `close log line ${logs}`);
  await waitUntil(() => sc.fds() === base, 5000, `fds back to ${base} (now ${sc.fds()})`);
  assert.equal(sc.fds(), base);
  assert.equal(await sc.metric('ws_connections_active'), 0);
  return sc.logs[logs - 1];
}

async function openWs(port: number, path = '/ws'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

async function echoOnce(ws: WebSocket, text: string): Promise<void> {
  const got = once(ws, 'message');
  ws.send(text);
  const [data] = await got;
  assert.equal(String(data), text);
}

/** Sends an upgrade by hand and waits for the whole response head. */
async function rawUpgradeTo(port: number, path = '/ws', halfOpen = false): Promise<RawClient> {
  const c = await rawClient(port, { halfOpen });
  c.socket.write(upgradeRequest(port, path));
  await waitUntil(() => splitHead(c.received()) !== null || c.ended(), 5000, 'response head');
  return c;
}

describe('faults against a sidecar child process (fds, close reasons)', () => {
  let backend: FaultBackend;
  let sc: SidecarChild;
  let base = 0;
  let logs = 0;
  before(async () => {
    backend = await startFaultBackend();
    sc = await spawnSidecar(backend.port, { args: ['--handshake-timeout', '300ms'] });
    // Warm up once (lazy allocations), then take the baseline.
    const ws = await openWs(sc.port);
    await echoOnce(ws, 'warm-up');
    ws.close(1000);
    await once(ws, 'close');
    logs = 1;
    await waitUntil(() => sc.logCount() === 1 && backend.openSockets() === 0, 5000, 'warm-up closed');
    base = await sc.baselineFds();
  });
  after(async () => {
    await sc.stop();
    await backend.close();
  });

  it('backend drops the socket mid-stream (FIN, no close frame): client gets 1006, reason server_disconnect', async () => {
    const ws = await openWs(sc.port);
    await echoOnce(ws, 'before');
    const closed = once(ws, 'close');
    ws.send('!destroy');
    const [code] = await closed;
    assert.equal(code, 1006);
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual([rec.close_code, rec.initiator, rec.reason], [1006, 'server', 'server_disconnect']);
    assert.equal(backend.openSockets(), 0);
  });

  it('backend resets mid-stream (RST): client gets 1006, reason server_error + ECONNRESET', async () => {
    const ws = await openWs(sc.port);
    await echoOnce(ws, 'before');
    const closed = once(ws, 'close');
    ws.send('!reset');
    const [code] = await closed;
    assert.equal(code, 1006);
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual(
      [rec.close_code, rec.initiator, rec.reason, rec.detail],
      [1006, 'server', 'server_error', 'ECONNRESET'],
    );
  });

  it('backend resets during the handshake: 502, reason upstream_unavailable', async () => {
    const c = await rawUpgradeTo(sc.port, '/reset-handshake');
    assert.equal(await c.closed, null);
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual(
      [rec.close_code, rec.status, rec.reason, rec.detail],
      [null, 502, 'upstream_unavailable', 'ECONNRESET'],
    );
    assert.equal(backend.openSockets(), 0);
  });

  it('backend hangs up during the handshake (FIN): 502, reason upstream_unavailable', async () => {
    const c = await rawUpgradeTo(sc.port, '/hangup-handshake');
    assert.equal(await c.closed, null);
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual([rec.status, rec.reason, rec.detail], [502, 'upstream_unavailable', 'ECONNRESET']);
  });

  it('backend never answers: 504 after --handshake-timeout, its socket closed, fds back', async () => {
    const t0 = Date.now();
    const c = await rawUpgradeTo(sc.port, '/silent');
    assert.equal(await c.closed, null);
    const took = Date.now() - t0;
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    assert.ok(took >= 290 && took < 2000, `answered after ${took} ms`);
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual([rec.status, rec.reason, rec.detail], [504, 'timeout', 'handshake_timeout']);
    await waitUntil(() => backend.openSockets() === 0, 3000, 'backend socket closed by the sidecar');
    assert.equal(await sc.metric('ws_handshake_failures_total', { reason: 'timeout' }), 1);
  });

  it('client resets (RST): the backend side is closed, reason client_error + ECONNRESET', async () => {
    const c = await rawUpgradeTo(sc.port);
    assert.match(splitHead(c.received())!.head, /^HTTP\/1\.1 101 /);
    c.socket.write(frame({ opcode: Opcode.Text, payload: 'ping', mask: true }));
    await waitUntil(() => decodeFrames(splitHead(c.received())!.rest).length === 1, 3000, 'echo');
    assert.equal(backend.openSockets(), 1);
    c.socket.resetAndDestroy();
    const rec = await settled(sc, base, ++logs);
    assert.deepEqual(
      [rec.close_code, rec.initiator, rec.reason, rec.detail],
      [1006, 'client', 'client_error', 'ECONNRESET'],
    );
    await waitUntil(() => backend.openSockets() === 0, 3000, 'backend side closed');
  });

  it('client disconnects before the backend answers: backend request aborted, fds back', async () => {
    const c = await rawClient(sc.port);
    c.socket.write(upgradeRequest(sc.port, '/silent'));
    await waitUntil(() => (backend.upgrades.get('/silent') ?? 0) === 2, 3000, 'backend saw the request');
    c.socket.resetAndDestroy();
    await waitUntil(() => backend.openSockets() === 0, 3000, 'backend side closed');
    await waitUntil(() => sc.fds() === base, 3000, 'fds back');
    // One line for the abandoned upgrade, with reason client_aborted.
    await waitUntil(() => sc.logCount() === logs + 1, 3000, 'log line');
  });
});

describe('backend process killed mid-stream', () => {
  it('client gets 1006, reason server_disconnect, fds back to baseline', async () => {
    const child = spawn(
      process.execPath,
      [new URL('./lib/fault-backend-main.js', import.meta.url).pathname],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
    });
    let sc: SidecarChild | null = null;
    try {
      await waitUntil(() => /port \d+/.test(out), 5000, 'backend start');
      sc = await spawnSidecar(Number(/port (\d+)/.exec(out)![1]));
      const warm = await openWs(sc.port);
      warm.close(1000);
      await once(warm, 'close');
      await waitUntil(() => sc!.logCount() === 1, 3000, 'warm-up closed');
      const base = await sc.baselineFds();
      const clients = await Promise.all([1, 2, 3].map(() => openWs(sc!.port)));
      await Promise.all(clients.map((ws, i) => echoOnce(ws, `m${i}`)));
      assert.equal(sc.fds(), base + 6);
      const codes = clients.map((ws) => once(ws, 'close').then(([code]) => code as number));
      child.kill('SIGKILL');
      assert.deepEqual(await Promise.all(codes), [1006, 1006, 1006]);
      await settled(sc, base, 4);
      for (const rec of sc.logs.slice(1))
        assert.deepEqual([rec.close_code, rec.initiator, rec.reason], [1006, 'server', 'server_disconnect']);
    } finally {
      child.kill('SIGKILL');
      await sc?.stop();
    }
  });
});

describe('half-closed TCP through a sidecar child process', () => {
  let backend: RawBackend;
  let sc: SidecarChild;
  let base = 0;
  before(async () => {
    backend = await startRawBackend({ halfOpen: true });
    sc = await spawnSidecar(backend.port);
    base = await sc.baselineFds();
  });
  after(async () => {
    await sc.stop();
    await backend.close();
  });

  it('client ends its side but keeps reading: the backend can still send, then both close', async () => {
    const c = await rawUpgradeTo(sc.port, '/ws', true);
    const peer = await backend.next();
    let peerEnded = false;
    peer.socket.on('end', () => {
      peerEnded = true;
    });
    const hello = frame({ opcode: Opcode.Text, payload: 'last words from the client', mask: true });
    c.socket.end(hello);
    await waitUntil(() => peerEnded, 3000, 'FIN relayed to the backend');
    assert.ok(peer.recv.bytes.equals(hello));
    // The backend → client direction is still open.
    const down = [1, 2, 3].map((i) => frame({ opcode: Opcode.Text, payload: `after FIN ${i}` }));
    for (const f of down) peer.socket.write(f);
    const rest = () => splitHead(c.received())!.rest;
    await waitUntil(() => rest().length === Buffer.concat(down).length, 3000, 'frames after the FIN');
    assert.ok(rest().equals(Buffer.concat(down)));
    assert.equal(c.socket.destroyed, false);
    peer.socket.end();
    assert.equal(await c.closed, null);
    const rec = await settled(sc, base, 1);
    assert.deepEqual([rec.close_code, rec.initiator, rec.reason], [1006, 'client', 'client_disconnect']);
    assert.equal(rec.bytes_out, Buffer.concat(down).length);
    assert.equal(rec.messages_out, 3);
  });

  it('relays a client FIN that arrived before the 101 (with the request) to the backend', async () => {
    const c = await rawClient(sc.port, { halfOpen: true });
    const hello = frame({ opcode: Opcode.Text, payload: 'sent with the request', mask: true });
    // Request, a frame and the FIN in one go: the FIN reaches the sidecar while the backend is
    // still answering the upgrade.
    c.socket.end(Buffer.concat([Buffer.from(upgradeRequest(sc.port)), hello]));
    const peer = await backend.next();
    let peerEnded = false;
    peer.socket.on('end', () => {
      peerEnded = true;
    });
    await waitUntil(() => peerEnded, 3000, 'FIN relayed to the backend');
    assert.ok(peer.recv.bytes.equals(hello));
    const reply = frame({ opcode: Opcode.Text, payload: 'reply after the FIN' });
    peer.socket.end(reply);
    assert.equal(await c.closed, null);
    assert.ok(splitHead(c.received())!.rest.equals(reply));
    const rec = await settled(sc, base, 2);
    assert.deepEqual([rec.close_code, rec.initiator, rec.reason], [1006, 'client', 'client_disconnect']);
  });

  it('backend ends its side while the client still sends: bytes reach the backend, then both close', async () => {
    const c = await rawUpgradeTo(sc.port, '/ws', true);
    const peer = await backend.next();
    const peerClosed = once(peer.socket, 'close');
    peer.socket.end();
    await waitUntil(() => c.ended(), 3000, 'FIN relayed to the client');
    const up = [1, 2, 3].map((i) =>
      frame({ opcode: Opcode.Binary, payload: Buffer.alloc(1000 * i, i), mask: true }),
    );
    for (const f of up) c.socket.write(f);
    const total = Buffer.concat(up);
    await peer.recv.waitFor(total.length, 3000);
    assert.ok(peer.recv.bytes.equals(total));
    c.socket.end();
    assert.equal(await c.closed, null);
    await peerClosed;
    const rec = await settled(sc, base, 3);
    assert.deepEqual([rec.close_code, rec.initiator, rec.reason], [1006, 'server', 'server_disconnect']);
    assert.deepEqual([rec.bytes_in, rec.messages_in], [total.length, 3]);
  });
});
