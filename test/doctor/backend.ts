/**
 * The real upstream the doctor tests put behind nginx and HAProxy: a `ws` echo server on any
 * path, /sse emitting an event every 200 ms, and /poll answering after a short hold. A plain
 * request that carries Sec-WebSocket-Key (what a stripped hop forwards) gets 426, as a
 * WebSocket-only endpoint answers.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';

export const SSE_SPACING_MS = 200;
export const SSE_EVENTS = 8;
export const POLL_HOLD_MS = 300;

export interface DoctorBackend {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

export async function startDoctorBackend(): Promise<DoctorBackend> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  let closing = false;
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/sse') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      // By default a bounded stream (1.6 s): long enough to see its spacing, short enough that a
      // buffering hop releases it within the doctor's watch window. ?endless never ends.
      const count = (req.url ?? '').includes('endless') ? Number.POSITIVE_INFINITY : SSE_EVENTS;
      for (let i = 1; i <= count && !closing && !res.destroyed; i++) {
        await sleep(SSE_SPACING_MS);
        res.write(`id: ${i}\ndata: tick ${i}\n\n`);
      }
      res.end();
      return;
    }
    if (path === '/poll') {
      await sleep(POLL_HOLD_MS);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ messages: [{ id: 1, text: 'hello' }] }));
      return;
    }
    if (req.headers['sec-websocket-key']) {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('Upgrade Required');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    async close() {
      closing = true;
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
