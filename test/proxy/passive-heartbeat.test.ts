import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { frame } from '../helpers/frames.js';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

describe('passive heartbeat watch', () => {
  it('counts a ping from the backend that the client leaves unanswered past --pong-timeout', async () => {
    const backend = await startWsBackend();
    const sidecar = await startTestSidecar(backend.port, { pongTimeout: 300 });
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      const server = await backend.next();
      server.ping('hello?');
      await client.recv.waitFor(2 + 6);
      // Bytes are counted while the connection lives, not only at close.
      assert.equal(await sidecar.metric('ws_bytes_sent_total'), 8);
      assert.equal(await sidecar.metric('ws_pings_total', { direction: 'server_to_client' }), 1);
      await waitUntil(
        async () => (await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' })) === 1,
        2000,
        'miss',
      );
      // A ping the client does answer is not a miss.
      client.socket.write(frame({ opcode: Opcode.Ping, payload: 'you?', mask: true }));
      await client.recv.waitFor(8 + 6);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'server' }), 0);
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' }), 1);
      assert.equal(await sidecar.metric('ws_bytes_received_total'), 2 + 4 + 4);
      client.socket.destroy();
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
