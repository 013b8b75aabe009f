/**
 * A message counts when its last byte has been relayed: a backend that resets in the middle of a
 * message's payload leaves that message uncounted, in the metric and in the close log, though
 * its first 1,000 bytes were relayed (and counted as bytes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frame } from '../helpers/frames.js';
import { rawUpgrade, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';

describe('a message cut off mid-payload', () => {
  it('is not counted when the backend resets after 1,000 of its 4,096 payload bytes', async () => {
    const backend = await startRawBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      const client = await rawUpgrade(sidecar.port, '/ws');
      const server = await backend.next();
      const whole = frame({ opcode: 2, payload: Buffer.alloc(300, 1) });
      const cut = frame({ opcode: 2, payload: Buffer.alloc(4096, 2) }).subarray(0, 4 + 1000);
      server.socket.write(Buffer.concat([whole, cut]));
      // Both reached the client before the reset.
      await client.recv.waitFor(whole.length + cut.length);
      server.socket.resetAndDestroy();
      await waitUntil(() => sidecar.logs.length === 1, 5000, 'close log');
      const log = sidecar.logs[0];
      assert.equal(log.messages_out, 1);
      assert.equal(log.bytes_out, whole.length + cut.length);
      assert.equal(log.reason, 'server_error');
      assert.equal(log.detail, 'ECONNRESET');
      assert.equal(await sidecar.metric('ws_messages_sent_total'), 1);
      assert.equal(await sidecar.metric('ws_bytes_sent_total'), whole.length + cut.length);
      assert.equal(await sidecar.metric('ws_message_size_bytes', { direction: 'server_to_client' }), 1);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
