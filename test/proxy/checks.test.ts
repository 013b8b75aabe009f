import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import { buildChecks } from '../../proxy/policy/checks.js';
import { rawUpgrade } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

const SECRET = 'lab-secret-of-at-least-32-bytes-long!!';
const sign = (sub: string, secret = SECRET) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(Buffer.from(secret));

async function sidecarWith(
  backend: WsBackend,
  overrides: Parameters<typeof sidecarConfig>[0],
): Promise<TestSidecar> {
  const checks = await buildChecks(sidecarConfig(overrides));
  return startTestSidecar(backend.port, overrides as object, checks);
}

describe('checks before the 101', () => {
  let backend: WsBackend;
  before(async () => {
    backend = await startWsBackend();
  });
  after(async () => {
    await backend.close();
  });

  it('refuses a foreign or missing Origin with 403 and never contacts the backend', async () => {
    const s = await sidecarWith(backend, {
      target: `http://127.0.0.1:${backend.port}`,
      allowOrigin: ['https://app.example'],
    });
    try {
      const before = backend.requests.length;
      assert.equal((await rawUpgrade(s.port, '/ws', { Origin: 'https://evil.example' })).status, 403);
      assert.equal((await rawUpgrade(s.port, '/ws')).status, 403);
      assert.equal(backend.requests.length, before);
      assert.equal(await s.metric('ws_handshake_failures_total', { reason: 'origin' }), 2);
      const ok = await rawUpgrade(s.port, '/ws', { Origin: 'https://app.example' });
      assert.equal(ok.status, 101);
      assert.equal(backend.requests.length, before + 1);
      ok.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('verifies a JWT (HMAC): missing or bad token 401, good token 101 with its subject as client id', async () => {
    const s = await sidecarWith(backend, { target: `http://127.0.0.1:${backend.port}`, jwtKey: SECRET });
    try {
      const before = backend.requests.length;
      assert.equal((await rawUpgrade(s.port, '/ws')).status, 401);
      assert.equal(
        (
          await rawUpgrade(s.port, '/ws', {
            Authorization: `Bearer ${await sign('eve', 'another-secret-another-secret-123')}`,
          })
        ).status,
        401,
      );
      assert.equal(backend.requests.length, before);
      assert.equal(await s.metric('ws_handshake_failures_total', { reason: 'auth' }), 2);
      const token = await sign('user-42');
      const ok = await rawUpgrade(s.port, `/ws?access_token=${token}`);
      assert.equal(ok.status, 101);
      assert.equal(backend.requests.at(-1)!.headers['x-client-id'], 'user-42');
      ok.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('verifies a JWT against a JWKS URL (RS256): unknown key 401, known key 101', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwks = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    jwks.listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    const url = new URL(`http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`);
    const s = await sidecarWith(backend, {
      target: `http://127.0.0.1:${backend.port}`,
      jwtJwksUrl: url,
      jwtIssuer: 'https://issuer.example',
    });
    const rs = (key: CryptoKey | Uint8Array, iss = 'https://issuer.example') =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setSubject('dana')
        .setIssuer(iss)
        .setExpirationTime('5m')
        .sign(key);
    try {
      const before = backend.requests.length;
      assert.equal(
        (await rawUpgrade(s.port, '/ws', { Authorization: `Bearer ${await rs(other.privateKey)}` })).status,
        401,
      );
      assert.equal(
        (
          await rawUpgrade(s.port, '/ws', {
            Authorization: `Bearer ${await rs(privateKey, 'https://other.example')}`,
          })
        ).status,
        401,
      );
      assert.equal(backend.requests.length, before);
      const ok = await rawUpgrade(s.port, '/ws', { Cookie: `token=${await rs(privateKey)}` });
      assert.equal(ok.status, 101);
      assert.equal(backend.requests.at(-1)!.headers['x-client-id'], 'dana');
      assert.equal(await s.metric('ws_handshake_failures_total', { reason: 'auth' }), 2);
      ok.socket.destroy();
    } finally {
      await s.close();
      jwks.close();
    }
  });

  it('asks a forward-auth service: 2xx accepts with its principal, anything else is 401', async () => {
    let asked = 0;
    const auth = http.createServer((req, res) => {
      asked++;
      if (req.headers.cookie === 'session=good') {
        res.writeHead(204, { 'x-user': 'carol' });
      } else {
        res.writeHead(403);
      }
      res.end();
    });
    auth.listen(0, '127.0.0.1');
    await once(auth, 'listening');
    const url = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/auth`;
    const s = await sidecarWith(backend, {
      target: `http://127.0.0.1:${backend.port}`,
      forwardAuthUrl: new URL(url),
    });
    try {
      const before = backend.requests.length;
      assert.equal((await rawUpgrade(s.port, '/ws', { Cookie: 'session=bad' })).status, 401);
      assert.equal(backend.requests.length, before);
      const ok = await rawUpgrade(s.port, '/ws', { Cookie: 'session=good' });
      assert.equal(ok.status, 101);
      assert.equal(backend.requests.at(-1)!.headers['x-client-id'], 'carol');
      ok.socket.destroy();
      // Cached: the same credentials within the TTL are not asked again.
      const again = await rawUpgrade(s.port, '/ws', { Cookie: 'session=good' });
      assert.equal(again.status, 101);
      assert.equal(asked, 2);
      again.socket.destroy();
      assert.equal(await s.metric('ws_handshake_failures_total', { reason: 'auth' }), 1);
    } finally {
      await s.close();
      auth.close();
    }
  });

  it('enforces per-IP and rate limits with 429 and reason=rate_limited', async () => {
    const s = await sidecarWith(backend, {
      target: `http://127.0.0.1:${backend.port}`,
      maxConnectionsPerIp: 2,
    });
    try {
      const a = await rawUpgrade(s.port, '/ws');
      const b = await rawUpgrade(s.port, '/ws');
      const c = await rawUpgrade(s.port, '/ws');
      assert.deepEqual([a.status, b.status, c.status], [101, 101, 429]);
      assert.equal(await s.metric('ws_handshake_failures_total', { reason: 'rate_limited' }), 1);
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await s.close();
    }
    const r = await sidecarWith(backend, {
      target: `http://127.0.0.1:${backend.port}`,
      upgradeRate: 1,
      upgradeBurst: 2,
      rateLimitStatus: 503,
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const x = await rawUpgrade(r.port, '/ws');
        statuses.push(x.status);
        if (x.status === 503) assert.match(x.head, /Retry-After: 1/);
        x.socket.destroy();
      }
      assert.deepEqual(statuses, [101, 101, 503]);
    } finally {
      await r.close();
    }
  });

  it('answers 408 to a client that never finishes its request (slowloris)', async () => {
    const s = await startTestSidecar(backend.port, { requestTimeout: 300 });
    try {
      const net = await import('node:net');
      const sock = net.connect(s.port, '127.0.0.1');
      await once(sock, 'connect');
      sock.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
      let got = '';
      sock.on('data', (c) => {
        got += c;
      });
      const t0 = Date.now();
      await once(sock, 'close');
      assert.match(got, /^HTTP\/1\.1 408 /);
      assert.ok(Date.now() - t0 < 2000);
      // A request that never completed is a client error, counted once; it never became a
      // handshake, so the handshake families do not count it.
      assert.equal(await s.metric('socketlens_client_errors_total', { reason: 'timeout' }), 1);
      assert.equal(await s.metric('socketlens_client_errors_total'), 1);
      assert.equal(await s.metric('ws_handshake_failures_total'), 0);
    } finally {
      await s.close();
    }
  });
});
