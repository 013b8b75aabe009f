/**
 * The "pipe" target: a plain http-proxy-3 proxy with WebSocket support and nothing else
 * (no telemetry, no frame scanning). It is the floor for what a Node.js proxy costs, so the
 * sidecar's overhead over it is the price of its telemetry.
 *
 *   node dist/bench/targets/node-pipe.js --listen 127.0.0.1:8080 --target http://127.0.0.1:7000
 */
import { createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';

function flag(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`node-pipe: --${name} is required`);
  return process.argv[i + 1];
}

const [host, portText] = flag('listen').split(':');
const target = flag('target');

const proxy = createProxyServer({ target, ws: true });
proxy.on('error', (_err, _req, res) => {
  // res is a ServerResponse for HTTP and a Socket for upgrades.
  if (res && 'writeHead' in res && !res.headersSent) {
    res.writeHead(502);
    res.end();
  } else if (res && 'destroy' in res) {
    res.destroy();
  }
});

const server = createServer((req, res) => proxy.web(req, res));
server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
server.listen({ host, port: Number(portText), backlog: 4096 }, () => {
  process.stdout.write(`node-pipe listening on ${host}:${portText} -> ${target}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(0));
