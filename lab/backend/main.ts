// CLI: node dist/lab/backend/main.js --port 3001 --node-id n1 --redis redis://127.0.0.1:6379
// Prints one JSON line on stdout once listening; exits 0 after a clean close on SIGTERM/SIGINT.

import { parseArgs } from 'node:util';
import { DEFAULT_HEARTBEAT_MS, startBackend } from './server.js';
import { startSocketioApp } from './socketio-app.js';

const HELP = `usage: node dist/lab/backend/main.js [options]

  --host <addr>         listen address           (env BACKEND_HOST, default 127.0.0.1)
  --port <n>            listen port, 0=ephemeral (env BACKEND_PORT, default 0)
  --node-id <id>        name of this node        (env BACKEND_NODE_ID, default n1)
  --redis <url>         Redis for the cross-node bus; in-process bus without it
                                                 (env BACKEND_REDIS_URL or REDIS_URL; empty = none)
  --redis-prefix <p>    key/channel prefix on that Redis (env BACKEND_REDIS_PREFIX)
  --heartbeat <ms>      WebSocket ping interval, 0=off (env BACKEND_HEARTBEAT_MS, default ${DEFAULT_HEARTBEAT_MS})
  --deflate             enable permessage-deflate (env BACKEND_DEFLATE=1)
  --sse-keepalive <ms>  SSE comment interval      (env BACKEND_SSE_KEEPALIVE_MS, default 15000)
  --app <name>          demo (the demo backend) or socketio (a real Socket.IO 4 app at
                        /socket.io/, which reads only --host and --port)
                                                 (env BACKEND_APP, default demo; empty = demo)
  -h, --help            this text

Once listening it prints one line: {"event":"listening","node":...,"url":...,"port":...}
`;

function fail(message: string): never {
  process.stderr.write(`backend: ${message}\n\n${HELP}`);
  process.exit(2);
}

function int(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) fail(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parse>['values'];
  function parse() {
    return parseArgs({
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'node-id': { type: 'string' },
        redis: { type: 'string' },
        'redis-prefix': { type: 'string' },
        heartbeat: { type: 'string' },
        deflate: { type: 'boolean' },
        'sse-keepalive': { type: 'string' },
        app: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  }
  try {
    values = parse().values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const env = process.env;
  const nodeId = values['node-id'] ?? env.BACKEND_NODE_ID ?? 'n1';
  const log = (line: string) => process.stderr.write(`backend ${nodeId}: ${line}\n`);
  const host = values.host ?? env.BACKEND_HOST ?? '127.0.0.1';
  const port = int('--port', values.port ?? env.BACKEND_PORT, 0);
  const app = (values.app ?? env.BACKEND_APP) || 'demo';
  if (app !== 'demo' && app !== 'socketio') fail(`--app must be demo or socketio, got "${app}"`);
  const server =
    app === 'socketio'
      ? await socketio(nodeId, host, port)
      : await demo({
          host,
          port,
          nodeId,
          redisUrl: values.redis ?? env.BACKEND_REDIS_URL ?? env.REDIS_URL ?? undefined,
          redisPrefix: (values['redis-prefix'] ?? env.BACKEND_REDIS_PREFIX) || undefined,
          heartbeatIntervalMs: int(
            '--heartbeat',
            values.heartbeat ?? env.BACKEND_HEARTBEAT_MS,
            DEFAULT_HEARTBEAT_MS,
          ),
          perMessageDeflate: values.deflate ?? env.BACKEND_DEFLATE === '1',
          sseKeepaliveMs: int(
            '--sse-keepalive',
            values['sse-keepalive'] ?? env.BACKEND_SSE_KEEPALIVE_MS,
            15_000,
          ),
          log,
        });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log(`${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        log(`close failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The demo backend, and its "listening" line. */
async function demo(opts: Parameters<typeof startBackend>[0]) {
  const backend = await startBackend(opts);
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', node: opts.nodeId, url: backend.url, port: backend.port, bus: backend.stats().bus })}\n`,
  );
  return backend;
}

/** The real Socket.IO app (lab/backend/socketio-app.ts), as the compose lab runs it. */
async function socketio(nodeId: string, host: string, port: number) {
  const app = await startSocketioApp({ host, port });
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', node: nodeId, app: 'socketio', url: app.url })}\n`,
  );
  return app;
}

main().catch((err: Error) => {
  process.stderr.write(`backend: ${err.message}\n`);
  process.exit(1);
});
