// The reconnect swarm against the real backend: exact timeline counts, jitter spreading, bounds.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { startBackend } from '../../lab/backend/server.js';
import {
  countByKind,
  peakAttemptsPerWindow,
  runSwarm,
  spawnSwarm,
  type SwarmEvent,
  timeUntilAllBack,
} from '../../lab/client/swarm.js';

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('swarm timeline helpers', () => {
  const ev = (t: number, client: number, kind: SwarmEvent['kind'], code?: number): SwarmEvent =>
    code === undefined ? { t, client, kind } : { t, client, kind, code };
  const timeline: SwarmEvent[] = [
    ev(0, 0, 'attempt'),
    ev(1, 1, 'attempt'),
    ev(5, 0, 'open'),
    ev(6, 1, 'open'),
    ev(100, 0, 'close', 1012),
    ev(101, 1, 'close', 1012),
    ev(150, 0, 'attempt'),
    ev(160, 0, 'open'),
    ev(240, 1, 'attempt'),
    ev(249, 1, 'open'),
  ];

  test('countByKind', () => {
    assert.deepEqual(countByKind(timeline), { attempt: 4, open: 4, close: 2, fail: 0, give_up: 0 });
  });

  test('peakAttemptsPerWindow slides the window over attempt times', () => {
    assert.equal(peakAttemptsPerWindow(timeline, 100), 2); // 0 and 1
    assert.equal(peakAttemptsPerWindow(timeline, 100, 50), 2); // 150 and 240
    assert.equal(peakAttemptsPerWindow(timeline, 90, 50), 1);
    assert.equal(peakAttemptsPerWindow([], 100), 0);
  });

  test('timeUntilAllBack measures from the first close to the last reopen', () => {
    assert.equal(timeUntilAllBack(timeline, 2), 149);
    assert.equal(timeUntilAllBack(timeline.slice(0, 8), 2), null);
    assert.equal(timeUntilAllBack(timeline.slice(0, 4), 2), null, 'no close, nothing to measure');
  });
});

describe('runSwarm against the backend', () => {
  test('50 clients connect, are all closed by the backend, and all come back', async () => {
    const backend = await startBackend({ nodeId: 'n1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
    const swarm = runSwarm({
      url: `${backend.url.replace('http', 'ws')}/ws?room=swarm`,
      count: 50,
      seed: 1,
      connectConcurrency: 10,
      backoff: { strategy: 'full', baseMs: 1000, capMs: 1000, maxRetries: 3 },
    });
    try {
      await swarm.whenAllOpen(10_000);
      assert.equal(backend.stats().ws.open, 50);
      const counts1 = countByKind(swarm.timeline);
      assert.deepEqual(counts1, { attempt: 50, open: 50, close: 0, fail: 0, give_up: 0 });

      const res = await fetch(`${backend.url}/admin/disconnect?code=1012&reason=deploy`, { method: 'POST' });
      assert.equal((await res.json()).ws, 50);
      await until(() => countByKind(swarm.timeline).open === 100, 'all 50 back');
      await swarm.whenAllOpen(1000);

      assert.deepEqual(countByKind(swarm.timeline), {
        attempt: 100,
        open: 100,
        close: 50,
        fail: 0,
        give_up: 0,
      });
      const closes = swarm.timeline.filter((e) => e.kind === 'close');
      assert.deepEqual(new Set(closes.map((e) => e.code)), new Set([1012]));
      assert.deepEqual(new Set(closes.map((e) => e.client)).size, 50, 'every client closed once');
      assert.equal(backend.stats().ws.open, 50);

      // Full jitter over 1 s spreads 50 reconnects: far fewer than 50 start in any 100 ms.
      const firstClose = closes[0]!.t;
      const peak = peakAttemptsPerWindow(swarm.timeline, 100, firstClose);
      assert.ok(peak >= 2 && peak <= 20, `reconnect peak ${peak} per 100 ms`);
      const back = timeUntilAllBack(swarm.timeline, 50)!;
      assert.ok(back > 500 && back < 2500, `all back after ${back} ms`);
      // The initial connects, with no jitter, were capped by connectConcurrency only.
      assert.ok(peakAttemptsPerWindow(swarm.timeline, 100) >= 10);
    } finally {
      await swarm.stop();
      await backend.close();
    }
    const frozen = swarm.timeline.length;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(swarm.timeline.length, frozen, 'nothing recorded after stop()');
  });

  test('without a server every client fails maxRetries+1 times, then gives up', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const swarm = runSwarm({
      url: `ws://127.0.0.1:${port}/ws`,
      count: 3,
      backoff: { strategy: 'fixed', baseMs: 10, capMs: 10, maxRetries: 2 },
    });
    try {
      await until(() => countByKind(swarm.timeline).give_up === 3, 'give up');
      assert.deepEqual(countByKind(swarm.timeline), { attempt: 9, open: 0, close: 0, fail: 9, give_up: 3 });
      const fail = swarm.timeline.find((e) => e.kind === 'fail')!;
      assert.equal(fail.code, 1006);
      assert.match(fail.error ?? '', /ECONNREFUSED/);
    } finally {
      await swarm.stop();
    }
  });

  test('localAddresses spreads clients over source IPs', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const seen = new Map<string, number>();
    wss.on('connection', (_ws, req) => {
      const ip = req.socket.remoteAddress!;
      seen.set(ip, (seen.get(ip) ?? 0) + 1);
    });
    const swarm = runSwarm({
      url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
      count: 4,
      localAddresses: ['127.0.0.2', '127.0.0.3'],
      backoff: { strategy: 'fixed', baseMs: 10, capMs: 10, maxRetries: 0 },
    });
    try {
      await swarm.whenAllOpen(5000);
      assert.deepEqual([...seen.entries()].sort(), [
        ['127.0.0.2', 2],
        ['127.0.0.3', 2],
      ]);
    } finally {
      await swarm.stop();
      await new Promise((r) => wss.close(r));
    }
  });

  test('spawnSwarm runs the same swarm in a child process, driven over IPC', async () => {
    const backend = await startBackend({ nodeId: 'n1', heartbeatIntervalMs: 0, closeGraceMs: 200 });
    const swarm = await spawnSwarm({
      url: `${backend.url.replace('http', 'ws')}/ws?room=spawned`,
      count: 30,
      seed: 7,
      connectConcurrency: 30,
      backoff: { strategy: 'full', baseMs: 500, capMs: 500, maxRetries: 3 },
    });
    try {
      assert.notEqual(swarm.pid, process.pid);
      assert.ok(Math.abs(swarm.epochMs - (performance.timeOrigin + performance.now())) < 10_000);
      await swarm.whenAllOpen(10_000);
      assert.equal(await swarm.openCount(), 30);
      assert.equal(backend.stats().ws.open, 30);
      const mark = await swarm.now();
      await fetch(`${backend.url}/admin/disconnect?code=1012&reason=deploy`, { method: 'POST' });
      await swarm.whenAllReconnected(mark, 5000);
      const timeline = await swarm.stop();
      assert.deepEqual(countByKind(timeline), { attempt: 60, open: 60, close: 30, fail: 0, give_up: 0 });
      const closes = timeline.filter((e) => e.kind === 'close');
      assert.ok(closes.every((e) => e.t >= mark && e.code === 1012));
      const back = timeUntilAllBack(timeline, 30)!;
      assert.ok(back > 0 && back < 1500, `all back after ${back} ms`);
      // A drop nobody reconnects from times out with the count in the message.
      await assert.rejects(swarm.whenAllReconnected(await swarm.now(), 100), /0\/30 clients open/);
    } finally {
      await swarm.close();
      await backend.close();
    }
    // The child is gone: requests fail instead of hanging.
    await assert.rejects(swarm.openCount(), /swarm process/);
    assert.throws(() => process.kill(swarm.pid, 0));
  });
});
