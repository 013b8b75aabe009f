/**
 * Graceful shutdown: every socket the sidecar holds is cut when the drain ends, whatever state
 * it is in; and what each side sent before the close is delivered and counted exactly.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A backend that reads upgrade requests and then does what `behave` says with the socket. */
async function startOddBackend(behave: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', () => behave(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function openClient(port: number): Promise<net.Socket> {
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => {});
  c.resume();
  await once(c, 'connect');
  c.write(UPGRADE);
  return c;
}

describe('SIGTERM with --drain-timeout 1s', () => {
  const cases: Array<[string, (s: net.Socket) => void]> = [
    [
      'an upgrade the backend answered with a 200 it keeps streaming',
      (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
        const t = setInterval(() => s.write('5\r\ntick\n\r\n'), 50);
        s.on('close', () => clearInterval(t));
      },
    ],
    ['an upgrade the backend never answers (handshake timeout 30 s)', () => {}],
  ];
  for (const [name, behave] of cases) {
    it(`cuts ${name} and exits within drain + 1 s`, async () => {
      const backend = await startOddBackend(behave);
      const sc = await spawnSidecar(backend.port, {
        // No readiness delay before the drain (--drain-delay): this case is about its end.
        args: ['--drain-timeout', '1s', '--drain-delay', '0', '--handshake-timeout', '30s'],
      });
      try {
        const client = await openClient(sc.port);
        // Let the sidecar reach the backend and, for the streaming case, relay some of it.
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        const exited = once(sc.child, 'exit');
        const clientClosed = once(client, 'close');
        sc.child.kill('SIGTERM');
        const [code] = await exited;
        const took = Date.now() - t0;
        assert.equal(code, 0);
        assert.ok(took < 2000, `exited ${took} ms after SIGTERM`);
        await clientClosed;
      } finally {
        sc.child.kill('SIGKILL');
        backend.close();
      }
    });
  }
});

describe('shutdown while messages flow both ways', () => {
  it('delivers what each side sent before the close, and counts exactly what was relayed', async () => {
    const backend = await startWsBackend();
    const sidecar = await startTestSidecar(backend.port, { drainTimeout: 5000 });
    const CLIENTS = 40;
    let backendGot = 0;
    try {
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
          await once(ws, 'open');
          const server = await backend.next();
          server.on('message', () => backendGot++);
          return ws;
        }),
      );
      let sent = 0;
      let received = 0;
      const closed = clients.map((ws) => {
        ws.on('message', () => received++);
        ws.on('error', () => {});
        const pump = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          ws.send('m'.repeat(200), (err) => {
            if (!err) sent++;
          });
          setImmediate(pump);
        };
        pump();
        return once(ws, 'close').then(([code]) => code as number);
      });
      await new Promise((r) => setTimeout(r, 300));
      await sidecar.shutdown();
      const codes = await Promise.all(closed);
      assert.deepEqual(new Set(codes), new Set([1001]));
      assert.ok(sent > CLIENTS, `clients sent ${sent} messages`);
      // Client to backend: everything a client sent before it saw the close reached the backend.
      assert.equal(backendGot, sent);
      assert.equal(await sidecar.metric('ws_messages_received_total'), backendGot);
      // Backend to client: the echoes relayed before the close are exactly those counted.
      assert.equal(await sidecar.metric('ws_messages_sent_total'), received);
      assert.equal(sidecar.logs.length, CLIENTS);
      const sum = (k: 'messages_in' | 'messages_out') => sidecar.logs.reduce((a, l) => a + l[k], 0);
      assert.deepEqual([sum('messages_in'), sum('messages_out')], [backendGot, received]);
      for (const l of sidecar.logs)
        assert.deepEqual([l.reason, l.close_code, l.initiator], ['shutdown', 1001, 'proxy']);
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
