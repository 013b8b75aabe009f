/**
 * The global send-buffer bound (--max-total-buffer-bytes) against clients that never read.
 *
 * Scaled down from the reported case (60 idle readers and a 2 MiB bound): 6 clients never read,
 * one healthy client pauses reading for 2 s, every per-client queue stays under
 * --max-buffer-bytes, and the backend keeps writing to all of them. The sidecar must shed the
 * idle readers (they hold the total up), keep the healthy client, and bring the total back under
 * the bound. Time for the grace period runs on a virtual clock; the sockets are real.
 *
 * nginx has no global bound: each connection buffers up to proxy_buffer_size and then stops
 * reading from the backend, so an idle client costs its own buffers only. Here the bound is a
 * promise about the process's memory, so we shed the clients that hold it, as slow consumers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ManualClock } from '../helpers/clock.js';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const IDLE = 6;
const GRACE = 3000;
/** Virtual ms per step of the clock (the shared tick runs every GRACE / 10). */
const STEP = 50;

/** Keeps every open backend socket's own queue at about 1 MiB of 64 KiB messages (at most 512 KiB per socket every 5 ms) until stopped. */
function floodAll(sockets: Set<WebSocket>): () => void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const t = setInterval(() => {
    for (const ws of sockets) {
      if (ws.readyState !== ws.OPEN) continue;
      for (let i = 0; i < 8 && ws.bufferedAmount < 1024 * 1024; i++) ws.send(chunk);
    }
  }, 5);
  return () => clearInterval(t);
}

/** Counts the bytes a raw client reads (without keeping them). */
function countBytes(socket: Socket): { n: number } {
  const c = { n: 0 };
  socket.removeAllListeners('data');
  socket.on('data', (b: Buffer) => {
    c.n += b.length;
  });
  return c;
}

const CASES = [
  // Queues up to --max-buffer-bytes, but no single queue reaches it: only the global rule can act.
  { name: 'with --slow-consumer', bound: 1024 * 1024, slowConsumer: true, maxBufferBytes: 4 * 1024 * 1024 },
  // Plain back-pressure: each queue stops near the socket's 16 KiB high-water mark.
  { name: 'without --slow-consumer', bound: 64 * 1024, slowConsumer: false, maxBufferBytes: 1024 * 1024 },
];

describe('global send-buffer bound', () => {
  for (const c of CASES) {
    it(`${c.name}: sheds the clients that never read, keeps a client that paused for 2 s, gets back under the bound`, async () => {
      const BOUND = c.bound;
      const clock = new ManualClock();
      const backend = await startWsBackend({ echo: false });
      const sidecar = await startTestSidecar(
        backend.port,
        {
          maxTotalBufferBytes: BOUND,
          slowConsumer: c.slowConsumer,
          maxBufferBytes: c.maxBufferBytes,
          slowConsumerGrace: GRACE,
        },
        null,
        { clock },
      );
      let stop = () => {};
      const idle: Socket[] = [];
      try {
        for (let i = 0; i < IDLE; i++) {
          const c = await rawUpgrade(sidecar.port, '/idle');
          c.socket.pause(); // never reads
          idle.push(c.socket);
        }
        const healthy = await rawUpgrade(sidecar.port, '/healthy');
        const got = countBytes(healthy.socket);
        await waitUntil(() => backend.sockets.size === IDLE + 1, 5000, 'backend sockets');
        stop = floodAll(backend.sockets);

        // The idle readers' kernel buffers fill, then their queues: the total goes over the bound.
        await waitUntil(() => sidecar.ctx.budget.total > BOUND, 20_000, 'total over the bound');
        const holding = () =>
          sidecar.ctx.table.snapshot().filter((s) => s.path === '/idle' && s.buffered_bytes > 0).length;
        await waitUntil(() => holding() === IDLE, 20_000, 'a queue at every idle reader');

        // The healthy client stops reading for 2 s (virtual), then reads again.
        healthy.socket.pause();
        await clock.advance(2000, STEP);
        assert.equal(sidecar.logs.length, 0, 'nobody is cut before the grace period');
        healthy.socket.resume();
        await clock.advance(GRACE - 2000 + 500, STEP);

        // Every idle reader was cut as a slow consumer; the healthy client was not.
        await waitUntil(() => sidecar.logs.length === IDLE, 10_000, 'the idle readers cut');
        assert.deepEqual(
          sidecar.logs.map((l) => [l.path, l.reason, l.detail, l.close_code, l.initiator]),
          Array.from({ length: IDLE }, () => ['/idle', 'slow_consumer', 'total_over_bound', 1008, 'proxy']),
        );
        assert.equal(await sidecar.metric('ws_slow_consumer_disconnects_total'), IDLE);
        assert.equal(await sidecar.metric('ws_close_total', { code: '1008', initiator: 'proxy' }), IDLE);
        assert.equal(await sidecar.metric('ws_connections_active'), 1);

        // The total came back under the bound, and the healthy client gets traffic again.
        await waitUntil(() => sidecar.ctx.budget.total <= BOUND, 10_000, 'total under the bound');
        const before = got.n;
        await waitUntil(() => got.n >= before + 4 * 1024 * 1024, 10_000, 'traffic to the healthy client');
        assert.ok((await sidecar.metric('ws_send_buffer_bytes', { stat: 'sum' })) <= BOUND);
        await clock.advance(GRACE + 500, STEP);
        assert.equal(sidecar.logs.length, IDLE, 'the healthy client was never cut');
        assert.equal(healthy.socket.destroyed, false);
      } finally {
        stop();
        for (const s of idle) s.destroy();
        await sidecar.close();
        await backend.close();
      }
    });
  }
});
