// The rolling-deploy plumbing against a real HAProxy: the pool spreads clients over two sidecars,
// a drain started over one sidecar's admin API takes it out of the pool before its first close,
// and the fallback-ladder fleet (in its own process) lands every drained client on the other one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnFleet } from '../../lab/client/fleet.js';
import { NativeEnvironment } from '../../lab/env/native.js';
import type { LabPool, LabSidecar } from '../../lab/env/types.js';
import { METRICS } from '../../proxy/metrics/definitions.js';
import { waitUntil } from '../helpers/raw.js';

describe('HAProxy pool and drain over the admin API', { timeout: 60_000 }, () => {
  const env = new NativeEnvironment();
  let s1: LabSidecar;
  let s2: LabSidecar;
  let pool: LabPool;

  before(async () => {
    const b1 = await env.backend({ nodeId: 'p1' });
    const b2 = await env.backend({ nodeId: 'p2' });
    s1 = await env.sidecar(b1.address);
    s2 = await env.sidecar(b2.address);
    pool = await env.pool([s1, s2]);
  });
  after(() => env.close());

  it('moves every client of the drained sidecar to the other one, with 1001 and no give-up', async () => {
    const fleet = await spawnFleet({ baseUrl: pool.url, count: 40 });
    try {
      const active = (s: LabSidecar) => s.metric(METRICS.connectionsActive.name);
      await waitUntil(async () => (await active(s1)) + (await active(s2)) === 40, 10_000, '40 connected');
      // Round robin: both sidecars hold clients.
      const onFirst = await active(s1);
      assert.ok(onFirst >= 10 && onFirst <= 30, `${onFirst} of 40 on the first sidecar`);

      await s1.drain({ windowMs: 1000, delayMs: 800 });
      await fleet.whenAllOpen(10_000);
      assert.equal(await active(s1), 0);
      assert.equal(await active(s2), 40);
      assert.deepEqual(await fleet.counts(), {
        open: 40,
        gaveUp: 0,
        byTransport: { websocket: 40, sse: 0, longpoll: 0 },
      });
      assert.equal(await s1.metric(METRICS.drainCloses.name, { kind: 'drain', pace: 'staggered' }), onFirst);
      const closes = (await s1.closeLog()).filter(
        (r) => r.transport === 'websocket' && r.status === undefined,
      );
      assert.equal(closes.length, onFirst);
      assert.deepEqual(
        new Set(closes.map((r) => `${r.close_code} ${r.reason} ${r.detail}`)),
        new Set(['1001 shutdown drain']),
      );
      // The pool had taken the draining sidecar out before its first close: no upgrade was refused.
      assert.equal(await s1.metric(METRICS.handshakeFailures.name, { reason: 'draining' }), 0);
    } finally {
      await fleet.close();
    }
  });
});
