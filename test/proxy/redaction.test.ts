/** Tokens never reach the close log, /connections or the span: every token source is redacted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import { buildChecks } from '../../proxy/policy/checks.js';
import { REDACTED, redactionSet, redactTarget } from '../../proxy/telemetry/redact.js';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const SECRET = 'lab-secret-of-at-least-32-bytes-long!!';

describe('redactTarget', () => {
  const set = redactionSet(['token']);
  const cases: Array<[string, string]> = [
    ['/ws?token=abc&room=1', `/ws?token=${REDACTED}&room=1`],
    ['/ws??token=abc', `/ws??token=${REDACTED}`],
    ['/ws?room=1;token=abc', `/ws?room=1;token=${REDACTED}`],
    ['/ws?token[]=abc&token[x]=def', `/ws?token[]=${REDACTED}&token[x]=${REDACTED}`],
    ['/ws?token%00=abc', `/ws?token%00=${REDACTED}`],
    ['/ws?%20token=abc', `/ws?%20token=${REDACTED}`],
    ['/ws?TOKEN=abc', `/ws?TOKEN=${REDACTED}`],
    ['/ws?%74oken=abc', `/ws?%74oken=${REDACTED}`],
    ['/ws?tokens=abc', '/ws?tokens=abc'],
    // A name that cannot be decoded hides what it is: the whole query goes.
    ['/ws?%E0%A4%A=abc&room=1', `/ws?${REDACTED}`],
  ];
  for (const [input, want] of cases) {
    it(`${input} -> ${want}`, () => assert.equal(redactTarget(input, set), want));
  }
  it('adds the query parameters token sources read from', () => {
    assert.deepEqual(
      [...redactionSet(['token'], ['header:authorization', 'query:T', 'cookie:c'])],
      ['token', 't'],
    );
  });
});

describe('a token in a query parameter named by --jwt-token-from', () => {
  it('is redacted in /connections, in the close log and for a rejected token', async () => {
    const backend = await startWsBackend();
    const overrides = {
      target: `http://127.0.0.1:${backend.port}`,
      jwtKey: SECRET,
      jwtTokenFrom: ['query:t'],
      redactParams: ['password'],
    };
    const checks = await buildChecks(sidecarConfig(overrides));
    const sidecar = await startTestSidecar(backend.port, overrides as object, checks);
    try {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('gina')
        .setExpirationTime('5m')
        .sign(Buffer.from(SECRET));
      const ok = await rawUpgrade(sidecar.port, `/ws?room=1&t=${token}`);
      assert.equal(ok.status, 101);
      const snap = await (await fetch(`${sidecar.adminUrl}/connections`)).text();
      assert.ok(!snap.includes(token), 'the token is in /connections');
      assert.match(snap, /\/ws\?room=1&t=\[redacted\]/);
      ok.socket.destroy();
      await waitUntil(() => sidecar.logs.length === 1, 3000, 'close-log line');
      const bad = await rawUpgrade(sidecar.port, '/ws?t=not.a.jwt');
      assert.equal(bad.status, 401);
      await waitUntil(() => sidecar.logs.length === 2, 3000, 'refusal line');
      assert.deepEqual(
        sidecar.logs.map((l) => l.path),
        [`/ws?room=1&t=${REDACTED}`, `/ws?t=${REDACTED}`],
      );
      assert.ok(!JSON.stringify(sidecar.logs).includes(token));
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
