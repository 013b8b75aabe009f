import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

describe('SIGTERM', () => {
  it('closes every WebSocket with 1001 on both sides, drains, and exits 0', async () => {
    const backend = await startWsBackend();
    const sidecar = await spawnSidecar(backend.port);
    try {
      const clients = await Promise.all(
        [1, 2, 3].map(async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
          await once(ws, 'open');
          return ws;
        }),
      );
      const serverSide = await Promise.all([backend.next(), backend.next(), backend.next()]);
      const clientCodes = clients.map((ws) => once(ws, 'close').then(([code]) => code as number));
      const serverCodes = serverSide.map((ws) => once(ws, 'close').then(([code]) => code as number));
      const exited = once(sidecar.child, 'exit');
      sidecar.child.kill('SIGTERM');
      assert.deepEqual(await Promise.all(clientCodes), [1001, 1001, 1001]);
      assert.deepEqual(await Promise.all(serverCodes), [1001, 1001, 1001]);
      const [code] = await exited;
      assert.equal(code, 0);
      const lines = sidecar.logs;
      assert.equal(lines.length, 3);
      for (const l of lines)
        assert.deepEqual([l.close_code, l.initiator, l.reason], [1001, 'proxy', 'shutdown']);
    } finally {
      sidecar.child.kill('SIGKILL');
      await backend.close();
    }
  });
});
