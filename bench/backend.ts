/**
 * The benchmark backend: a `ws` echo server in its own process (perMessageDeflate off), with
 * the plain-HTTP endpoints of the HTTP workloads.
 *
 *   node dist/bench/backend.js --port 7000 [--host 127.0.0.1]
 *
 * - WebSocket on any path but /broadcast: every message is sent back on the same connection.
 * - WebSocket on /broadcast: the connection joins one room; a message from any member is sent
 *   to every member (framed once, written to each socket).
 * - GET /http: 200 with a 64-byte body (Content-Length, keep-alive).
 * - GET /poll: a long-poll; held until the next publish tick (every 10 ms), then 200 with a
 *   64-byte body.
 * - GET /sse: a Server-Sent Events stream of one shared feed: every `every` ms (query, default
 *   50) one 64-byte event goes to every open stream.
 * - WebSocket under /socket.io/ (engine.io, transport=websocket): the open packet first, as a
 *   Socket.IO server sends it, then every message echoed (a "40" CONNECT comes back as the
 *   server's CONNECT, a "42[...]" event as an event).
 * - WebSocket with the graphql-transport-ws subprotocol: connection_init gets connection_ack,
 *   subscribe gets nothing, and every other message (a ping with a payload) gets a "next" of the
 *   subscription "1" of exactly the same length, so the generator can count replies by size.
 * Anything else that is not an upgrade gets 426. Runs until SIGTERM/SIGINT.
 */
import { createServer, type ServerResponse } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { Opcode } from '../proxy/ws/frame-scanner.js';
import { encodeFrame } from '../proxy/ws/frames.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '0'));

const BODY = Buffer.alloc(64, 'x');
const POLL_TICK_MS = 10;

const GRAPHQL = 'graphql-transport-ws';
const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (offered) => (offered.has(GRAPHQL) ? GRAPHQL : false),
});
const OPEN_PACKET = `0${JSON.stringify({ sid: 'bench', upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 })}`;
const NEXT_HEAD = '{"id":"1","type":"next","payload":{"data":{"p":"';
const NEXT_TAIL = '"}}}';
/** A graphql-ws "next" message of exactly `length` bytes (cached per length). */
const nextOf = new Map<number, string>();
function nextMessage(length: number): string {
  let m = nextOf.get(length);
  if (m === undefined) {
    m = `${NEXT_HEAD}${'n'.repeat(Math.max(0, length - NEXT_HEAD.length - NEXT_TAIL.length))}${NEXT_TAIL}`;
    nextOf.set(length, m);
  }
  return m;
}
const room = new Set<WebSocket>();
wss.on('connection', (ws, req) => {
  ws.on('error', () => ws.terminate());
  if (req.url?.startsWith('/broadcast')) {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      // Framed once for every member, as a broadcasting server would.
      const framed = encodeFrame(isBinary ? Opcode.Binary : Opcode.Text, data as Buffer, false);
      // biome-ignore lint/suspicious/noExplicitAny: the underlying socket is not in ws's types
      for (const member of room) (member as any)._socket.write(framed);
    });
    return;
  }
  if (ws.protocol === GRAPHQL) {
    ws.on('message', (data: Buffer) => {
      if (data.includes('"connection_init"')) ws.send('{"type":"connection_ack"}');
      else if (!data.includes('"subscribe"')) ws.send(nextMessage(data.length));
    });
    return;
  }
  if (req.url?.startsWith('/socket.io/')) ws.send(OPEN_PACKET);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const waiting: ServerResponse[] = [];
setInterval(() => {
  for (const res of waiting.splice(0)) {
    if (res.destroyed) continue;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  }
}, POLL_TICK_MS).unref();

const streams = new Set<ServerResponse>();
let feed: NodeJS.Timeout | null = null;
const EVENT = `data: ${'e'.repeat(56)}\n\n`;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/http') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  } else if (path === '/poll') {
    waiting.push(res);
  } else if (path === '/sse') {
    const every = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('every') ?? 50);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      if (streams.size === 0 && feed) {
        clearInterval(feed);
        feed = null;
      }
    });
    feed ??= setInterval(() => {
      for (const s of streams) s.write(EVENT);
    }, every);
  } else {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('Upgrade Required');
  }
});
server.keepAliveTimeout = 60_000;
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.listen({ host, port, backlog: 4096 }, () => {
  const a = server.address();
  process.stdout.write(`bench backend listening on ${typeof a === 'object' && a ? a.port : port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(0));
