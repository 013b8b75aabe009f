import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

/** Sends 64 KiB messages as long as the socket's own queue stays small, until stopped. */
function flood(ws: WebSocket, ms: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  return new Promise((resolve) => {
    const end = Date.now() + ms;
    const t = setInterval(() => {
      if (Date.now() > end || ws.readyState !== ws.OPEN) {
        clearInterval(t);
        resolve();
        return;
      }
      while (ws.bufferedAmount < 1024 * 1024) ws.send(chunk);
    }, 5);
  });
}

describe('slow consumers', () => {
  it('disconnects a stalled reader with 1008 once it stays over the limit for the grace period', async () => {
    const backend = await startWsBackend({ echo: false });
    const limit = 256 * 1024;
    const sidecar = await startTestSidecar(backend.port, {
      slowConsumer: true,
      maxBufferBytes: limit,
      slowConsumerGrace: 500,
    });
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      client.socket.pause(); // never reads again
      const server = await backend.next();
      let maxSeen = 0;
      const sampler = setInterval(async () => {
        maxSeen = Math.max(maxSeen, await sidecar.metric('ws_send_buffer_bytes', { stat: 'max' }));
      }, 20);
      const flooding = flood(server, 8000);
      await waitUntil(() => sidecar.logs.length === 1, 8000, 'slow consumer disconnect');
      clearInterval(sampler);
      await flooding;
      const log = sidecar.logs[0];
      assert.equal(log.reason, 'slow_consumer');
      assert.equal(log.close_code, 1008);
      assert.equal(log.initiator, 'proxy');
      assert.equal(await sidecar.metric('ws_slow_consumer_disconnects_total'), 1);
      assert.equal(await sidecar.metric('ws_close_total', { code: '1008', initiator: 'proxy' }), 1);
      // The queue grew past the limit, but by at most one relayed chunk.
      assert.ok(maxSeen > limit, `max send buffer seen ${maxSeen}`);
      assert.ok(maxSeen < limit + 256 * 1024, `max send buffer seen ${maxSeen}`);
      // What the cut client still had queued left the global total with it.
      assert.equal(sidecar.ctx.budget.total, 0);
      assert.equal(sidecar.ctx.budget.overFor(sidecar.ctx.clock.now()), -1);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('without the policy, pauses the backend side instead (plain TCP back-pressure)', async () => {
    const backend = await startWsBackend({ echo: false });
    const sidecar = await startTestSidecar(backend.port, { maxBufferBytes: 256 * 1024 });
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      client.socket.pause();
      const server = await backend.next();
      let maxSeen = 0;
      const sampler = setInterval(async () => {
        maxSeen = Math.max(maxSeen, await sidecar.metric('ws_send_buffer_bytes', { stat: 'max' }));
      }, 20);
      await flood(server, 2000);
      clearInterval(sampler);
      // The backend's own queue grew instead: the sidecar read no further than one chunk past
      // the socket's high-water mark, and nobody was disconnected.
      assert.ok(server.bufferedAmount > 0, `backend queue ${server.bufferedAmount}`);
      assert.ok(maxSeen <= 16 * 1024 + 64 * 1024 + 16, `max send buffer ${maxSeen}`);
      assert.equal(sidecar.logs.length, 0);
      assert.equal(await sidecar.metric('ws_connections_active'), 1);
      client.socket.destroy();
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });

  it('keeps the sidecar RSS bounded with 200 stalled clients and a flooding backend', async () => {
    const backend = await startWsBackend({ echo: false });
    const sidecar = await spawnSidecar(backend.port, {
      args: [
        '--log',
        'off',
        '--slow-consumer',
        '--max-buffer-bytes',
        '256KiB',
        '--slow-consumer-grace',
        '30s',
        '--max-total-buffer-bytes',
        '16MiB',
      ],
    });
    const port = sidecar.port;
    const clients: Array<Awaited<ReturnType<typeof rawUpgrade>>> = [];
    try {
      const baseline = sidecar.rssBytes();
      for (let i = 0; i < 200; i++) {
        const c = await rawUpgrade(port, '/ws');
        c.socket.pause();
        clients.push(c);
      }
      await waitUntil(() => backend.sockets.size === 200, 5000, '200 backend sockets');
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, sidecar.rssBytes());
      }, 50);
      await Promise.all([...backend.sockets].map((ws) => flood(ws, 3000)));
      clearInterval(sampler);
      const grown = peak - baseline;
      // Bound: 16 MiB of queued bytes (the global cap) plus per-connection overhead.
      const bound = 120 * 1024 * 1024;
      assert.ok(
        grown < bound,
        `RSS grew by ${(grown / 1048576).toFixed(1)} MiB (bound ${bound / 1048576} MiB)`,
      );
      process.stderr.write(
        `# 200 stalled clients: sidecar RSS ${(baseline / 1048576).toFixed(1)} -> peak ${(peak / 1048576).toFixed(1)} MiB\n`,
      );
    } finally {
      for (const c of clients) c.socket.destroy();
      sidecar.child.kill('SIGKILL');
      await backend.close();
    }
  });
});
