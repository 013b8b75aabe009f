/**
 * Rejected upgrade: a sidecar that allows one Origin and verifies a JWT (HMAC) refuses a bad
 * Origin with 403 and a missing or invalid token with 401 before the backend is ever contacted;
 * a good Origin with a valid token is upgraded.
 */
import { SignJWT } from 'jose';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { check, type Drill } from './types.js';
import { toWs, track } from './util.js';

const ORIGIN = 'https://app.example';
const SECRET = 'socketlens-lab-drill-secret-0123456789abcdef';

async function token(secret: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('drill-user')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));
}

export const drill: Drill = {
  name: 'rejected-upgrade',
  title: 'Upgrades refused before the backend (Origin, JWT)',
  timeoutMs: 90_000,
  async run(env, { log }) {
    const backend = await env.backend({ nodeId: 'node-1' });
    const sidecar = await env.sidecar(backend.address, { allowOrigin: [ORIGIN], jwtKey: SECRET });
    const url = toWs(sidecar.url, '/ws');
    const good = await token(SECRET);
    const attempt = async (headers: Record<string, string>) => {
      const t = track(url, { headers });
      const opened = await t.opened;
      if (opened) t.ws.close();
      await t.closed;
      return opened ? 101 : t.status;
    };
    const badOrigin = await attempt({ Origin: 'https://evil.example', Authorization: `Bearer ${good}` });
    const noToken = await attempt({ Origin: ORIGIN });
    const badToken = await attempt({
      Origin: ORIGIN,
      Authorization: `Bearer ${await token('wrong-secret-wrong-secret-wrong-secret')}`,
    });
    const openedBefore = (await backend.stats()).ws.opened;
    const ok = await attempt({ Origin: ORIGIN, Authorization: `Bearer ${good}` });
    const openedAfter = (await backend.stats()).ws.opened;
    const originFails = await sidecar.metric(METRICS.handshakeFailures.name, { reason: 'origin' });
    const authFails = await sidecar.metric(METRICS.handshakeFailures.name, { reason: 'auth' });
    log(
      `bad origin ${badOrigin}, no token ${noToken}, bad token ${badToken}, good ${ok}; backend saw ${openedBefore} before the good one`,
    );
    return {
      symptom: check(
        badOrigin === 403 && noToken === 401 && badToken === 401 && openedBefore === 0,
        `bad Origin → ${badOrigin}, no token → ${noToken}, invalid token → ${badToken}; backend WebSocket opens before the good one: ${openedBefore}`,
      ),
      detected: check(
        originFails === 1 && authFails === 2,
        `${METRICS.handshakeFailures.name}{reason="origin"} = ${originFails}, {reason="auth"} = ${authFails} (missing + invalid token)`,
      ),
      mitigated: check(
        ok === 101 && openedAfter === 1,
        `good Origin + valid token → ${ok}; backend opens ${openedAfter}`,
      ),
      figure: `${badOrigin}/${noToken}/${badToken} → ${ok}`,
      series: [],
      data: { badOrigin, noToken, badToken, ok, originFails, authFails, openedBefore, openedAfter },
    };
  },
};
