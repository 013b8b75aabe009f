// The idle-timeout hop against a real HAProxy: a quiet WebSocket is cut at the configured
// idle timeout, one that pings keeps living.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { type HaproxyHop, startHaproxy } from '../../lab/runner/components/haproxy.js';

const IDLE_MS = 1500;

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('haproxy idle hop', { timeout: 20_000 }, () => {
  let upstream: WebSocketServer;
  let hop: HaproxyHop;

  before(async () => {
    upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => upstream.once('listening', resolve));
    const { port } = upstream.address() as { port: number };
    hop = await startHaproxy({ upstream: `127.0.0.1:${port}`, idleTimeoutMs: IDLE_MS });
  });

  after(async () => {
    await hop?.stop();
    for (const client of upstream?.clients ?? []) client.terminate();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('cuts an idle WebSocket after the idle timeout and keeps a pinging one', async (t) => {
    const url = `ws://127.0.0.1:${hop.port}/ws`;
    const [idle, pinging] = await Promise.all([open(url), open(url)]);
    const openedAt = performance.now();

    let pongs = 0;
    pinging.on('pong', () => pongs++);
    const pinger = setInterval(() => pinging.ping(), 500);

    const idleClosed = new Promise<{ code: number; afterMs: number }>((resolve) => {
      idle.once('close', (code) => resolve({ code, afterMs: performance.now() - openedAt }));
    });
    let pingingClosed = false;
    pinging.once('close', () => {
      pingingClosed = true;
    });

    const { code, afterMs } = await idleClosed;
    t.diagnostic(`idle socket cut after ${Math.round(afterMs)} ms`);
    // HAProxy closes the TCP connection without a close frame: the client sees 1006.
    assert.equal(code, 1006);
    assert.ok(
      afterMs >= IDLE_MS * 0.9 && afterMs <= IDLE_MS * 1.1,
      `idle socket cut after ${Math.round(afterMs)} ms, expected ${IDLE_MS} ms ±10%`,
    );

    await sleep(4500 - (performance.now() - openedAt));
    clearInterval(pinger);
    assert.equal(pingingClosed, false);
    assert.equal(pinging.readyState, WebSocket.OPEN);
    assert.ok(pongs >= 8, `expected ~9 pongs in 4.5 s, got ${pongs}`);
    pinging.close();
    await new Promise((resolve) => pinging.once('close', resolve));
  });

  it('restart() drops every open connection and serves again on the same port', async () => {
    const url = `ws://127.0.0.1:${hop.port}/ws`;
    const ws = await open(url);
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    const pidBefore = hop.pid;
    await hop.restart();
    assert.equal(await closed, 1006);
    assert.notEqual(hop.pid, pidBefore);
    const again = await open(url);
    again.close();
    await new Promise((resolve) => again.once('close', resolve));
  });
});
