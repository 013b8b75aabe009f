// The relay reads every socket into one shared buffer (Node's onread mode) and copies each read
// out before the next: many connections relaying large random messages at once, in both
// directions and through back-pressure, must still deliver every byte unchanged.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WsConnection } from '../../proxy/ws/connection.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('relay reads into a shared buffer', () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port);
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
  });

  it('reads relayed sockets without data events', async () => {
    const ws = new WebSocket(`${sidecar.url}/one`);
    await once(ws, 'open');
    await waitUntil(() => [...sidecar.ctx.table.connections()].length === 1, 2000, 'relayed');
    const conn = [...sidecar.ctx.table.connections()][0] as WsConnection;
    assert.ok(conn instanceof WsConnection);
    assert.equal(conn.client.listenerCount('data'), 0);
    assert.equal(conn.upstream.listenerCount('data'), 0);
    ws.send('ping');
    const [echo] = await once(ws, 'message');
    assert.equal(String(echo), 'ping');
    ws.close();
    await once(ws, 'close');
  });

  it('echoes 16 connections × 12 random messages up to 300 KB, every byte in order', async () => {
    const conns = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const ws = new WebSocket(`${sidecar.url}/many/${i}`);
        await once(ws, 'open');
        return ws;
      }),
    );
    await Promise.all(
      conns.map(async (ws, i) => {
        const sent = Array.from({ length: 12 }, (_, k) =>
          randomBytes(1 + ((i * 7919 + k * 104729) % 300_000)),
        );
        const got: Buffer[] = [];
        const done = new Promise<void>((resolve) => {
          ws.on('message', (d: Buffer) => {
            got.push(d);
            if (got.length === sent.length) resolve();
          });
        });
        for (const m of sent) ws.send(m);
        await done;
        assert.deepEqual(got.map(sha), sent.map(sha), `connection ${i}`);
        ws.close();
        await once(ws, 'close');
      }),
    );
  });

  it('keeps the bytes intact across back-pressure: 8 MiB to a backend that stops reading for a while', async () => {
    const ws = new WebSocket(`${sidecar.url}/pressure`);
    const server = backend.next();
    await once(ws, 'open');
    const peer = await server;
    // biome-ignore lint/suspicious/noExplicitAny: the raw socket under ws, to stop reading
    const raw = (peer as any)._socket as import('node:net').Socket;
    raw.pause();
    const sent = Array.from({ length: 32 }, () => randomBytes(256 * 1024));
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on('message', (d: Buffer) => {
        got.push(d);
        if (got.length === sent.length) resolve();
      });
    });
    for (const m of sent) ws.send(m);
    await new Promise((r) => setTimeout(r, 300));
    raw.resume();
    await done;
    assert.deepEqual(got.map(sha), sent.map(sha));
    ws.close();
    await once(ws, 'close');
  });
});
