/**
 * What bytes_in and ws_bytes_received_total count: only what was relayed to the backend. A real
 * `ws` client answers the sidecar's heartbeat pings with pongs; those pongs are taken out of the
 * stream and are not counted. Heartbeat time runs on a virtual clock.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { ManualClock } from '../helpers/clock.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

describe('relayed byte counts', () => {
  it('exclude the pongs a real ws client sends back to the sidecar pings', async () => {
    const clock = new ManualClock();
    const backend = await startWsBackend({ echo: false });
    const sidecar = await startTestSidecar(
      backend.port,
      { heartbeatInterval: 1000, heartbeatMisses: 3 },
      null,
      {
        clock,
      },
    );
    try {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/ws`);
      await once(ws, 'open');
      const server = await backend.next();
      let pings = 0;
      ws.on('ping', () => pings++);
      const got: string[] = [];
      server.on('message', (d) => got.push(String(d)));
      ws.send('hello'); // masked text frame: 2 + 4 + 5 = 11 bytes
      await waitUntil(() => got.length === 1, 5000, 'the message at the backend');
      // Quiet for the interval: the sidecar pings, ws answers with a 2 + 4 + 12 byte pong.
      for (let i = 0; i < 3 && pings < 2; i++) {
        await clock.advance(1100, 50);
        const want = i + 1;
        await waitUntil(() => pings >= want, 5000, 'a ping at the client');
      }
      await clock.advance(200, 50);
      ws.close(1000); // masked close frame: 2 + 4 + 2 = 8 bytes
      await waitUntil(() => sidecar.logs.length === 1, 5000, 'close log');
      const log = sidecar.logs[0];
      assert.ok(pings >= 2, `pings ${pings}`);
      assert.equal(log.bytes_in, 11 + 8);
      assert.equal(log.messages_in, 1);
      assert.equal(await sidecar.metric('ws_bytes_received_total'), 11 + 8);
      assert.equal(await sidecar.metric('ws_pongs_total', { direction: 'client_to_server' }), 0);
      assert.equal(await sidecar.metric('ws_heartbeat_misses_total'), 0);
      assert.equal(log.reason, 'client_close');
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
