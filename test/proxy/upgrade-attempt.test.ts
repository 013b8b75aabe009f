/**
 * The upgrade attempt's edges: a 101 a client would reject, a handshake stripped of
 * `Connection: upgrade`, a non-WebSocket Upgrade (h2c), absolute-form targets, the close-log line
 * of a failed upgrade, and a check that throws.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import { buildChecks } from '../../proxy/policy/checks.js';
import { rawUpgrade, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

/** Sends `text` on a fresh connection and resolves with everything received until the server closes. */
async function exchange(port: number, text: string): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  let got = '';
  sock.setEncoding('latin1');
  sock.on('data', (c: string) => {
    got += c;
  });
  sock.on('error', () => {});
  sock.write(text);
  await once(sock, 'close');
  return got;
}

/** A plain HTTP backend that records the requests it answers. */
async function startHttpBackend(): Promise<{
  port: number;
  seen: IncomingMessage[];
  close(): Promise<void>;
}> {
  const seen: IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 6 });
    res.end('plain\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a 101 that a client would reject', () => {
  for (const [name, accept, detail] of [
    ['without Sec-WebSocket-Accept', null, 'missing_accept'],
    ['with a wrong Sec-WebSocket-Accept', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'wrong_accept'],
  ] as const) {
    it(`${name}: 502, upstream_rejected with detail ${detail}, never an opened connection`, async () => {
      const backend = await startRawBackend({
        answer: () =>
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          (accept ? `Sec-WebSocket-Accept: ${accept}\r\n` : '') +
          '\r\n',
      });
      const sidecar = await startTestSidecar(backend.port);
      try {
        const client = await rawUpgrade(sidecar.port, '/ws', { 'X-Client-Id': 'carol' });
        assert.equal(client.status, 502);
        assert.equal(await sidecar.metric('ws_connections_opened_total'), 0);
        assert.equal(
          await sidecar.metric('ws_handshake_failures_total', {
            reason: 'upstream_rejected',
            status_class: '1xx',
          }),
          1,
        );
        assert.equal(await sidecar.metric('ws_close_total'), 0);
        assert.equal(sidecar.logs.length, 1);
        const rec = sidecar.logs[0];
        assert.deepEqual(
          [rec.reason, rec.detail, rec.status, rec.close_code, rec.client_id],
          ['upstream_rejected', detail, 502, null, 'carol'],
        );
      } finally {
        await sidecar.close();
        await backend.close();
      }
    });
  }
});

describe('a handshake that reaches the plain path', () => {
  let backend: WsBackend;
  before(async () => {
    backend = await startWsBackend();
  });
  after(async () => {
    await backend.close();
  });

  it('Upgrade: websocket without Connection: upgrade is a stripped upgrade, counted and logged once', async () => {
    const sidecar = await startTestSidecar(backend.port);
    try {
      const got = await exchange(
        sidecar.port,
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Client-Id: dave\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n',
      );
      // The ws backend answers a plain request that carries a key with 426.
      assert.match(got, /^HTTP\/1\.1 426 /);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'upgrade_stripped' }), 1);
      assert.equal(await sidecar.metric('ws_handshake_failures_total'), 1);
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close-log line');
      const rec = sidecar.logs[0];
      assert.deepEqual(
        [rec.reason, rec.detail, rec.status, rec.client_id, rec.transport],
        ['upgrade_stripped', 'no_connection_upgrade', 426, 'dave', 'websocket'],
      );
    } finally {
      await sidecar.close();
    }
  });
});

describe('a non-WebSocket Upgrade (h2c)', () => {
  // nginx ignores an Upgrade it was not configured to pass and proxies the request as a plain
  // one; so do we, and so does a backend that does not speak h2c. Before, the sidecar answered 400.
  it('is forwarded as a plain request with the upgrade dropped, and answered by the backend', async () => {
    const backend = await startHttpBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      const got = await exchange(
        sidecar.port,
        'GET /page HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
          'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      );
      assert.match(got, /^HTTP\/1\.1 200 /);
      assert.ok(got.endsWith('\r\n\r\nplain\n'), got);
      assert.equal(backend.seen.length, 1);
      const h = backend.seen[0].headers;
      assert.equal(h.upgrade, undefined);
      assert.equal(h['http2-settings'], undefined);
      assert.doesNotMatch(String(h.connection ?? ''), /upgrade/i);
      assert.equal(await sidecar.metric('ws_handshake_failures_total'), 0);
      assert.equal(await sidecar.metric('socketlens_http_requests_total', { status_class: '2xx' }), 1);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});

describe('absolute-form request targets', () => {
  // nginx takes the host of an absolute URI as $host; the sidecar proxies to one fixed backend,
  // so it keeps the client's Host header and forwards the origin-form path on both paths.
  it('are forwarded in origin-form on the upgrade path, as on the HTTP path', async () => {
    const backend = await startRawBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      const sock = net.connect(sidecar.port, '127.0.0.1');
      await once(sock, 'connect');
      sock.on('error', () => {});
      sock.write(
        'GET http://other.example/ws?room=a&token=s3cret HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await backend.next();
      assert.match(backend.heads[0], /^GET \/ws\?room=a&token=s3cret HTTP\/1\.1\r\n/);
      await waitUntil(() => sidecar.ctx.table.size === 1, 3000, 'connection');
      const [conn] = sidecar.ctx.table.snapshot();
      assert.equal(conn.path, '/ws?room=a&token=[redacted]');
      sock.destroy();
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('are classified by their path: an absolute long-poll target is a long-poll', async () => {
    const backend = await startHttpBackend();
    const sidecar = await startTestSidecar(backend.port, { longpollPaths: ['/poll'] });
    try {
      const got = await exchange(
        sidecar.port,
        'GET http://other.example/poll/x?since=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.match(got, /^HTTP\/1\.1 200 /);
      assert.equal(backend.seen[0].url, '/poll/x?since=1');
      assert.equal(await sidecar.metric('longpoll_responses_total', { status_class: '2xx' }), 1);
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close-log line');
      assert.deepEqual([sidecar.logs[0].transport, sidecar.logs[0].path], ['longpoll', '/poll/x?since=1']);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});

describe('the close-log line of a failed upgrade', () => {
  it('is written for a refusal by the backend, with the client id the client sent', async () => {
    const backend = await startRawBackend({
      answer: () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n',
    });
    const sidecar = await startTestSidecar(backend.port);
    try {
      const client = await rawUpgrade(sidecar.port, '/ws?client_id=erin');
      assert.equal(client.status, 403);
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close-log line');
      const rec = sidecar.logs[0];
      assert.deepEqual(
        [rec.reason, rec.detail, rec.status, rec.client_id, rec.close_code],
        ['upstream_rejected', 'status_403', 403, 'erin', null],
      );
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});

describe('a check that throws', () => {
  const SECRET = 'lab-secret-of-at-least-32-bytes-long!!';
  it('refuses that upgrade as internal, releases its slot, and the next upgrade gets through', async () => {
    const backend = await startWsBackend();
    const overrides = {
      target: `http://127.0.0.1:${backend.port}`,
      jwtKey: SECRET,
      jwtTokenFrom: ['cookie:token'],
      maxConnections: 1,
    };
    const checks = await buildChecks(sidecarConfig(overrides));
    const sidecar = await startTestSidecar(backend.port, overrides as object, checks);
    try {
      // A malformed percent-encoding in the cookie makes the token lookup throw.
      const bad = await rawUpgrade(sidecar.port, '/ws', { Cookie: 'token=%E0%A4%A' });
      assert.equal(bad.status, 500);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'internal' }), 1);
      assert.equal(sidecar.logs.length, 1);
      assert.deepEqual(
        [sidecar.logs[0].reason, sidecar.logs[0].detail],
        ['internal', 'check_failed:URIError'],
      );
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('frank')
        .setExpirationTime('5m')
        .sign(Buffer.from(SECRET));
      const good = await rawUpgrade(sidecar.port, '/ws', { Cookie: `token=${token}` });
      assert.equal(good.status, 101);
      good.socket.destroy();
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
