/** A real `ws` backend for tests: echoes messages and remembers the upgrade requests it saw. */
import http, { type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WsBackend {
  port: number;
  requests: IncomingMessage[];
  sockets: Set<WebSocket>;
  /** Resolves with the next server-side WebSocket. */
  next(): Promise<WebSocket>;
  close(): Promise<void>;
}

export async function startWsBackend(
  opts: { perMessageDeflate?: boolean; echo?: boolean } = {},
): Promise<WsBackend> {
  const server = http.createServer((req, res) => {
    if (req.headers['sec-websocket-key']) {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end('upgrade required\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('plain\n');
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: opts.perMessageDeflate ?? false });
  const requests: IncomingMessage[] = [];
  const sockets = new Set<WebSocket>();
  const waiting: Array<(ws: WebSocket) => void> = [];
  const queue: WebSocket[] = [];
  server.on('upgrade', (req, socket, head) => {
    requests.push(req);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => {});
      if (opts.echo !== false) ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      const w = waiting.shift();
      if (w) w(ws);
      else queue.push(ws);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    sockets,
    next: () => {
      // Connections that already closed are of no use to a test waiting for a live one.
      while (queue.length > 0 && queue[0].readyState !== queue[0].OPEN) queue.shift();
      const ws = queue.shift();
      return ws ? Promise.resolve(ws) : new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const ws of sockets) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
