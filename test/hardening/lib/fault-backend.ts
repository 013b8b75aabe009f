/**
 * A WebSocket backend whose behaviour is chosen by the request path and by command messages, for
 * fault tests and soak runs. Runs in the test process (`startFaultBackend`) or as a child process
 * (`fault-backend-main.js`, which prints `port N`).
 *
 * Paths:
 *   /ws...              echo every message; a text message starting with "!" is a command:
 *                       "!close:CODE" close handshake with CODE, "!end" TCP FIN without a close
 *                       frame, "!reset" TCP RST, "!destroy" drop the socket (FIN)
 *   /silent             read the upgrade request, never answer
 *   /reset-handshake    read the upgrade request, answer with a TCP RST
 *   /hangup-handshake   read the upgrade request, close the socket (FIN)
 *   /reject             answer 403
 * Any other request gets 200 "plain".
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface FaultBackend {
  port: number;
  /** TCP connections currently open on the backend. */
  openSockets(): number;
  /** Upgrade requests seen, by path (without the query). */
  upgrades: Map<string, number>;
  close(): Promise<void>;
}

function rawSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

export async function startFaultBackend(host = '127.0.0.1', port = 0): Promise<FaultBackend> {
  const sockets = new Set<Socket>();
  const upgrades = new Map<string, number>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('plain\n');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    upgrades.set(path, (upgrades.get(path) ?? 0) + 1);
    if (path === '/silent') {
      // Never answer, but notice when the sidecar gives up (its FIN), and close then.
      socket.on('end', () => socket.destroy());
      socket.resume();
      return;
    }
    if (path === '/reset-handshake') {
      socket.resetAndDestroy();
      return;
    }
    if (path === '/hangup-handshake') {
      socket.destroy();
      return;
    }
    if (path === '/reject') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          const text = data.toString();
          if (text.startsWith('!')) {
            if (text.startsWith('!close:')) ws.close(Number(text.slice(7)));
            else if (text === '!end') rawSocket(ws).end();
            else if (text === '!reset') rawSocket(ws).resetAndDestroy();
            else if (text === '!destroy') rawSocket(ws).destroy();
            return;
          }
        }
        ws.send(data, { binary: isBinary });
      });
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    openSockets: () => sockets.size,
    upgrades,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
