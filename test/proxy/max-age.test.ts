import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { once } from 'node:events';
import WebSocket from 'ws';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

describe('maximum connection age', () => {
  it('closes old connections with 1001, spread by jitter over [age × (1 − jitter), age]', async () => {
    const backend = await startWsBackend();
    const age = 600;
    const sidecar = await startTestSidecar(backend.port, {
      maxConnectionAge: age,
      maxConnectionAgeJitter: 0.5,
    });
    try {
      // Real clients: they answer the sidecar's close frame, and their answer is what reaches
      // the backend last.
      const clients = await Promise.all(
        [1, 2, 3, 4, 5, 6].map(async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
          await once(ws, 'open');
          return ws;
        }),
      );
      await waitUntil(() => sidecar.logs.length === clients.length, 5000, 'all closed');
      for (const log of sidecar.logs) {
        assert.equal(log.close_code, 1001);
        assert.equal(log.reason, 'max_connection_age');
        assert.ok(
          log.duration_ms >= age * 0.5 - 20 && log.duration_ms <= age + 1100,
          `closed at ${log.duration_ms} ms`,
        );
      }
      const spread = new Set(sidecar.logs.map((l) => Math.round(l.duration_ms / 50)));
      assert.ok(spread.size > 1, 'closes are spread, not simultaneous');
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
