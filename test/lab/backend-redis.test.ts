// Two backend nodes sharing one real redis-server: cross-node fan-out and consistent seqs.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { type Backend, startBackend } from '../../lab/backend/server.js';
import { freePort } from '../../lab/runner/ports.js';

/**
 * redis-server on a free port (picked, then handed to redis: another process could grab it in
 * between, so retry a few times).
 */
async function startRedis(fixedPort?: number): Promise<{ url: string; stop(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const proc: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      proc.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) {
      return {
        url: `redis://127.0.0.1:${port}`,
        async stop() {
          if (proc.exitCode !== null) return;
          const exited = once(proc, 'exit');
          proc.kill('SIGTERM');
          await exited;
        },
      };
    }
    proc.kill('SIGKILL');
    if (attempt >= 2 || fixedPort !== undefined) throw new Error(`redis-server did not start: ${out}`);
  }
}

interface Msg {
  seq: number;
  origin: string;
  node: string;
  data: unknown;
}

function collect(ws: WebSocket): Msg[] {
  const got: Msg[] = [];
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString())));
  return got;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('backend: two nodes over redis pub/sub', () => {
  let redis: { url: string; stop(): Promise<void> };
  let n1: Backend;
  let n2: Backend;

  before(async () => {
    redis = await startRedis();
    [n1, n2] = await Promise.all([
      startBackend({ nodeId: 'n1', redisUrl: redis.url, heartbeatIntervalMs: 0, closeGraceMs: 200 }),
      startBackend({ nodeId: 'n2', redisUrl: redis.url, heartbeatIntervalMs: 0, closeGraceMs: 200 }),
    ]);
  });
  after(async () => {
    await Promise.all([n1?.close(), n2?.close()]);
    await redis?.stop();
  });

  test('a broadcast published on either node reaches clients on both', async () => {
    assert.equal(n1.stats().bus, 'redis');
    const a = new WebSocket(`${n1.url.replace('http', 'ws')}/ws?room=r`);
    const b = new WebSocket(`${n2.url.replace('http', 'ws')}/ws?room=r`);
    const atA = collect(a);
    const atB = collect(b);
    await Promise.all([once(a, 'open'), once(b, 'open')]);

    a.send(JSON.stringify({ type: 'publish', room: 'r', data: 'from-a' }));
    await until(() => atA.length === 1 && atB.length === 1, 'first broadcast on both nodes');
    const res = await fetch(`${n2.url}/publish`, {
      method: 'POST',
      body: JSON.stringify({ room: 'r', data: 'via-n2' }),
    });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: true, room: 'r', seq: 2, node: 'n2' });
    await until(() => atA.length === 2 && atB.length === 2, 'second broadcast on both nodes');

    const view = (m: Msg) => [m.seq, m.origin, m.node, m.data];
    assert.deepEqual(atA.map(view), [
      [1, 'n1', 'n1', 'from-a'],
      [2, 'n2', 'n1', 'via-n2'],
    ]);
    assert.deepEqual(atB.map(view), [
      [1, 'n1', 'n2', 'from-a'],
      [2, 'n2', 'n2', 'via-n2'],
    ]);
    a.close();
    b.close();
    await Promise.all([once(a, 'close'), once(b, 'close')]);
  });

  test('concurrent publishes on both nodes: one gap-free seq order, the same everywhere', async () => {
    const a = new WebSocket(`${n1.url.replace('http', 'ws')}/ws?room=race`);
    const b = new WebSocket(`${n2.url.replace('http', 'ws')}/ws?room=race`);
    const atA = collect(a);
    const atB = collect(b);
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    const N = 25;
    const seqs = await Promise.all(
      Array.from({ length: N * 2 }, (_, i) => (i % 2 === 0 ? n1 : n2).publish('race', i)),
    );
    assert.deepEqual(
      [...seqs].sort((x, y) => x - y),
      Array.from({ length: N * 2 }, (_, i) => i + 1),
    );
    await until(() => atA.length === N * 2 && atB.length === N * 2, 'all broadcasts');
    const order = Array.from({ length: N * 2 }, (_, i) => i + 1);
    assert.deepEqual(
      atA.map((m) => m.seq),
      order,
    );
    assert.deepEqual(
      atB.map((m) => m.seq),
      order,
    );
    assert.deepEqual(
      atA.map((m) => m.data),
      atB.map((m) => m.data),
    );
    // A long-poll on the other node sees the same history.
    const poll = await (await fetch(`${n2.url}/poll?room=race&since=${N * 2 - 2}&timeout=0`)).json();
    assert.deepEqual(
      poll.messages.map((m: Msg) => [m.seq, m.node]),
      [
        [N * 2 - 1, 'n2'],
        [N * 2, 'n2'],
      ],
    );
    a.close();
    b.close();
    await Promise.all([once(a, 'close'), once(b, 'close')]);
  });

  test('an unreachable redis fails startBackend with a coded error', async () => {
    const port = await freePort();
    await assert.rejects(startBackend({ nodeId: 'n3', redisUrl: `redis://127.0.0.1:${port}` }), {
      code: 'SL_LAB_REDIS_CONNECT',
    });
  });
});

describe('backend: redis outage', () => {
  test('publish fails fast with 503 while redis is down, and fan-out resumes after it returns', async () => {
    let redis = await startRedis();
    const port = Number(new URL(redis.url).port);
    const node = await startBackend({
      nodeId: 'n9',
      redisUrl: redis.url,
      heartbeatIntervalMs: 0,
      closeGraceMs: 200,
    });
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/ws?room=o`);
    const got = collect(ws);
    const post = (data: unknown) =>
      fetch(`${node.url}/publish`, { method: 'POST', body: JSON.stringify({ room: 'o', data }) });
    try {
      await once(ws, 'open');
      assert.equal((await post('before')).status, 202);
      await until(() => got.length === 1, 'first broadcast');

      await redis.stop();
      const started = performance.now();
      const down = await post('during');
      assert.equal(down.status, 503);
      assert.equal((await down.json()).error.code, 'SL_LAB_BUS_UNAVAILABLE');
      assert.ok(performance.now() - started < 2000, 'failed fast instead of queueing');

      await until(() => !node.stats().busUp, 'the bus to report down');
      redis = await startRedis(port);
      // Both redis clients reconnect with backoff (<= 2 s) and the subscriber re-subscribes.
      await until(() => node.stats().busUp, 'the bus to come back', 10_000);
      assert.equal((await post('after')).status, 202);
      await until(() => got.length === 2, 'broadcast after redis returned');
      // The restarted redis lost the counter; the node's own floor keeps the seq growing.
      assert.deepEqual(
        got.map((m) => [m.seq, m.data]),
        [
          [1, 'before'],
          [2, 'after'],
        ],
      );
    } finally {
      ws.close();
      await node.close();
      await redis.stop();
    }
  });
});
