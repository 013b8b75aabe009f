/**
 * A real Socket.IO 4 app for the lab: `socket.io` on a plain HTTP server, at the default
 * /socket.io/ path, answering the "chat" event with an ack. Socket.IO is loaded when the app
 * starts, so the rest of the lab runs without it (it is an optional peer dependency).
 *
 * The app also records, for every engine.io session that closed, the transport it was on at
 * the end: the server's own view, to set against what the sidecar saw. Over HTTP it answers
 * GET /healthz (the compose health check) and GET /closed-on (that record, as a JSON array), so
 * a drill that runs it in a container reads it the same way.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SocketioApp {
  readonly url: string;
  readonly address: string;
  /** Transport of each engine.io session that closed, in closing order. */
  closedOn(): string[];
  close(): Promise<void>;
}

export interface SocketioAppOptions {
  host?: string;
  /** Listen port; 0 (default) = ephemeral. */
  port?: number;
  /** engine.io heartbeat (default 25 s / 20 s, as Socket.IO's). */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

interface EngineSocket {
  transport: { name: string };
  on(event: 'close', listener: () => void): void;
}

export async function startSocketioApp(opts: SocketioAppOptions = {}): Promise<SocketioApp> {
  const { Server } = await import('socket.io');
  const host = opts.host ?? '127.0.0.1';
  const closed: string[] = [];
  // engine.io answers its own path before this handler runs; everything else lands here.
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (req.method === 'GET' && req.url === '/closed-on') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(closed));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  const io = new Server(server, {
    pingInterval: opts.pingIntervalMs ?? 25_000,
    pingTimeout: opts.pingTimeoutMs ?? 20_000,
  });
  io.on('connection', (socket) => {
    socket.on('chat', (text: unknown, ack?: (reply: unknown) => void) => ack?.({ echo: text }));
  });
  io.engine.on('connection', (socket: EngineSocket) => {
    socket.on('close', () => closed.push(socket.transport.name));
  });
  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    address: `${host}:${port}`,
    closedOn: () => [...closed],
    async close() {
      io.close();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
