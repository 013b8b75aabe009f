/**
 * Heartbeat blame: a backend that stalls in the middle of a frame holds the sidecar's ping to
 * the client in the queue behind that frame (a ping may only go between frames). The client
 * never saw that ping, so it must not be charged with a miss; the backend, which stopped
 * answering, is the one that is timed out. Time runs on a virtual clock; the sockets are real.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { ManualClock } from '../helpers/clock.js';
import { startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';

const INTERVAL = 1000;
const MISSES = 3;

/** A server frame header (unmasked, FIN, binary) announcing `length` payload bytes (126..65535). */
function binaryHeader(length: number): Buffer {
  return Buffer.from([0x82, 126, length >> 8, length & 0xff]);
}

describe('heartbeat blame when the backend stalls mid-frame', () => {
  it('charges the silent backend, not the client whose ping is stuck behind the frame', async () => {
    const clock = new ManualClock();
    // 1,000 of 4,096 payload bytes, then nothing: the backend never finishes the frame and, being
    // a raw socket, never answers a ping either.
    const backend = await startRawBackend({
      afterHead: Buffer.concat([binaryHeader(4096), Buffer.alloc(1000, 0x61)]),
    });
    const sidecar = await startTestSidecar(
      backend.port,
      { heartbeatInterval: INTERVAL, heartbeatMisses: MISSES, heartbeatUpstream: true },
      null,
      { clock },
    );
    try {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/ws`);
      let clientPings = 0;
      ws.on('ping', () => clientPings++);
      ws.on('error', () => {});
      await once(ws, 'open');
      const peer = await backend.next();
      const closed = once(ws, 'close');

      // Interval × (misses + 1) of virtual time: the backend gets MISSES pings and answers none.
      await clock.advance(INTERVAL * (MISSES + 1) + 500, 50);
      await waitUntil(() => sidecar.logs.length === 1, 5000, 'the close-log line');

      const log = sidecar.logs[0];
      assert.equal(log.reason, 'heartbeat_timeout');
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'server' }), MISSES);
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' }), 0);
      // The client's ping never left the queue: the frame in progress was never finished.
      assert.equal(clientPings, 0);
      // The backend got our pings (masked, as a client's frames are): 2+4 bytes of header and a
      // token each; count their opcodes in what it received.
      const received = peer.recv.bytes;
      let pings = 0;
      for (let i = 0; i + 1 < received.length; ) {
        const len = received[i + 1] & 0x7f;
        if ((received[i] & 0x0f) === 0x9) pings++;
        i += 2 + 4 + len;
      }
      assert.equal(pings, MISSES);
      await closed;
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
