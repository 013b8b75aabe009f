/**
 * A Socket.IO 4 app (socket.io, not written by this project) for `lab --target`: echoes "chat".
 * Run on its own it prints its port and serves until killed:
 *   node dist/test/lab/target/socketio-app.js [pingIntervalMs] [pingTimeoutMs]
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Server } from 'socket.io';

export interface SocketIoApp {
  port: number;
  close(): Promise<void>;
}

export async function startSocketIoApp(pingInterval: number, pingTimeout: number): Promise<SocketIoApp> {
  const server = http.createServer();
  const app = new Server(server, { pingInterval, pingTimeout, connectTimeout: 2000 });
  app.on('connection', (socket) => socket.on('chat', (m: string) => socket.emit('chat', m)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      app.close();
      server.closeAllConnections();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await startSocketIoApp(Number(process.argv[2] ?? 25000), Number(process.argv[3] ?? 20000));
  process.stdout.write(`${app.port}\n`);
}
