/**
 * The benchmark backend: a `ws` echo server in its own process (perMessageDeflate off).
 *
 *   node dist/bench/backend.js --port 7000 [--host 127.0.0.1]
 *
 * Every message is sent back unchanged on the same connection. Any path upgrades; a plain
 * request gets 426. Runs until SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '0'));

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

const server = createServer((_req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' });
  res.end('Upgrade Required');
});
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.listen({ host, port, backlog: 4096 }, () => {
  const a = server.address();
  process.stdout.write(`bench backend listening on ${typeof a === 'object' && a ? a.port : port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(0));
