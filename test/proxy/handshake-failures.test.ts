import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { rawUpgrade, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('handshake failures', () => {
  it('answers 502 and counts upstream_unavailable when the target is down', async () => {
    const sidecar = await startTestSidecar(await closedPort());
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      assert.equal(client.status, 502);
      assert.match(client.head, /^HTTP\/1\.1 502 Bad Gateway/);
      assert.equal(
        await sidecar.metric('ws_handshake_failures_total', { reason: 'upstream_unavailable' }),
        1,
      );
      assert.equal(await sidecar.metric('ws_connections_opened_total'), 0);
      assert.equal(sidecar.logs.length, 1);
      assert.deepEqual(
        [sidecar.logs[0].reason, sidecar.logs[0].detail],
        ['upstream_unavailable', 'ECONNREFUSED'],
      );
      assert.equal(sidecar.logs[0].status, 502);
      assert.equal((await fetch(`${sidecar.adminUrl}/readyz`)).status, 503);
    } finally {
      await sidecar.close();
    }
  });

  it('relays a non-101 answer unchanged and counts upstream_rejected by status class', async () => {
    const answer =
      'HTTP/1.1 403 Forbidden\r\nX-Custom-Case: Kept\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nnope!\n';
    const backend = await startRawBackend({ answer: () => answer });
    const sidecar = await startTestSidecar(backend.port);
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      await client.recv.waitFor(6);
      assert.equal(`${client.head}\r\n\r\n${client.recv.bytes.toString('latin1')}`, answer);
      assert.equal(
        await sidecar.metric('ws_handshake_failures_total', {
          reason: 'upstream_rejected',
          status_class: '4xx',
        }),
        1,
      );
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('re-chunks a chunked non-101 body so the client reads the same body', async () => {
    const answer =
      'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    const backend = await startRawBackend({ answer: () => answer });
    const sidecar = await startTestSidecar(backend.port);
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      assert.equal(client.status, 500);
      await waitUntil(() => client.recv.bytes.includes('0\r\n\r\n'), 3000, 'end of chunked body');
      const body = client.recv.bytes.toString('latin1');
      const decoded = body
        .split('\r\n')
        .filter((_, i) => i % 2 === 1)
        .join('');
      assert.equal(decoded, 'hello world');
      assert.equal(
        await sidecar.metric('ws_handshake_failures_total', {
          reason: 'upstream_rejected',
          status_class: '5xx',
        }),
        1,
      );
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('detects a stripped Upgrade: Sec-WebSocket-Key without Upgrade: websocket', async () => {
    const backend = await startWsBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      const client = await rawUpgrade(sidecar.port, '/ws', { Connection: 'close' }, { upgradeHeader: false });
      assert.equal(client.status, 426);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'upgrade_stripped' }), 1);
      assert.equal(backend.requests.length, 0);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('answers 504 and counts timeout when the backend never answers the upgrade', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    const sidecar = await startTestSidecar((silent.address() as net.AddressInfo).port, {
      handshakeTimeout: 300,
    });
    try {
      const t0 = Date.now();
      const client = await rawUpgrade(sidecar.port, '/ws');
      const took = Date.now() - t0;
      assert.equal(client.status, 504);
      assert.ok(took >= 290 && took < 1500, `answered after ${took} ms`);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'timeout' }), 1);
    } finally {
      await sidecar.close();
      silent.close();
    }
  });
});

describe('a client that leaves during the handshake', () => {
  it('is counted as client_aborted and logged, and the backend request is dropped', async () => {
    const silent = net.createServer((s) => {
      s.on('error', () => {});
      s.resume();
    });
    const backendSockets: net.Socket[] = [];
    silent.on('connection', (s) => backendSockets.push(s));
    silent.listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    const sidecar = await startTestSidecar((silent.address() as net.AddressInfo).port, {
      handshakeTimeout: 5000,
    });
    try {
      const sock = net.connect(sidecar.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await waitUntil(() => backendSockets.length === 1, 3000, 'backend contacted');
      sock.resetAndDestroy();
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'log line');
      assert.deepEqual([sidecar.logs[0].reason, sidecar.logs[0].detail], ['client_aborted', 'before_answer']);
      assert.equal(sidecar.logs[0].status, 499);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'client_aborted' }), 1);
      await waitUntil(
        () => backendSockets[0].destroyed || backendSockets[0].readableEnded,
        3000,
        'backend socket closed',
      );
    } finally {
      await sidecar.close();
      silent.close();
    }
  });
});
