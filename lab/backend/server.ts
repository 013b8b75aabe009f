// startBackend(): the lab's demo real-time app. One HTTP server carries WebSocket (/ws), SSE
// (/sse), long-poll (/poll) and POST /publish; broadcasts go through a bus (Redis pub/sub when
// redisUrl is set, so several nodes form one app; in-process otherwise).

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Bus, createMemoryBus } from './bus.js';
import { createLongPollEndpoint } from './longpoll-endpoint.js';
import { createRedisBus } from './redis-bus.js';
import { RoomHub } from './room-hub.js';
import { createRouter } from './router.js';
import { createSseEndpoint } from './sse-endpoint.js';
import { type BackendStats, createStats } from './stats.js';
import { createWsEndpoint, rejectUpgrade } from './ws-endpoint.js';

export interface BackendOptions {
  host?: string;
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
  nodeId: string;
  /** redis://host:port; without it the bus is in-process (single node). */
  redisUrl?: string;
  /** Redis key/channel prefix (default "socketlens"). */
  redisPrefix?: string;
  /** WebSocket ping interval; a socket that missed the previous pong is terminated. 0 = off. */
  heartbeatIntervalMs?: number;
  perMessageDeflate?: boolean;
  /** SSE comment keepalive interval (default 15 s). */
  sseKeepaliveMs?: number;
  /** Broadcasts kept per room for Last-Event-ID / since replay (default 1000). */
  historySize?: number;
  /** Per-client user-space buffer above which the backend stops adding (default 8 MiB). */
  maxBufferedBytes?: number;
  /** How long close() lets WebSocket clients answer the 1001 close before terminating them. */
  closeGraceMs?: number;
  log?: (line: string) => void;
}

export interface Backend {
  port: number;
  url: string;
  nodeId: string;
  stats(): BackendStats;
  /** Closes every WebSocket with `code` and ends SSE streams / waiting polls (a "deploy"). */
  disconnectAll(code?: number, reason?: string): { ws: number; sse: number; poll: number };
  /** Publishes as POST /publish would; resolves with the seq. */
  publish(room: string, data: unknown): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_HEARTBEAT_MS = 30_000;
const MiB = 1024 * 1024;

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const host = opts.host ?? '127.0.0.1';
  const nodeId = opts.nodeId;
  const log = opts.log ?? (() => {});
  const maxBufferedBytes = opts.maxBufferedBytes ?? 8 * MiB;
  const hub = new RoomHub(nodeId, opts.historySize ?? 1000);
  const deliver = hub.deliver.bind(hub);
  const bus: Bus = opts.redisUrl
    ? await createRedisBus(
        { url: opts.redisUrl, prefix: opts.redisPrefix, latestSeq: (room) => hub.latestSeq(room), log },
        deliver,
      )
    : createMemoryBus(deliver);
  const stats = createStats(nodeId, bus.kind);
  const readStats = (): BackendStats => {
    stats.delivered = hub.delivered;
    stats.busUp = bus.isUp();
    return stats;
  };
  // JSON has no undefined: normalise so memory and Redis buses deliver the same thing.
  const publish = (room: string, data: unknown) =>
    bus.publish(room, nodeId, data === undefined ? null : data);

  const ws = createWsEndpoint({
    nodeId,
    hub,
    stats,
    publish,
    perMessageDeflate: opts.perMessageDeflate ?? false,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS,
    maxBufferedBytes,
    maxPayloadBytes: 16 * MiB,
  });
  const sse = createSseEndpoint({
    nodeId,
    hub,
    stats,
    keepaliveMs: opts.sseKeepaliveMs ?? 15_000,
    maxBufferedBytes,
  });
  const poll = createLongPollEndpoint({ hub, stats });
  const server = createServer(
    { noDelay: true },
    createRouter({ nodeId, stats: readStats, publish, ws, sse, poll, maxBodyBytes: MiB }),
  );

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {}); // a reset mid-handshake must not crash the backend
    const url = new URL(req.url ?? '/', 'http://backend.invalid');
    if (url.pathname !== '/ws' || req.method !== 'GET') {
      rejectUpgrade(socket, nodeId, 404, 'Not Found', `no WebSocket endpoint at ${url.pathname}\n`);
      return;
    }
    ws.handleUpgrade(req, socket, head, url);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await bus.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    port,
    url,
    nodeId,
    stats: readStats,
    publish,
    disconnectAll(code = 1012, reason = 'disconnect requested') {
      return { ws: ws.disconnectAll(code, reason), sse: sse.endAll(), poll: poll.releaseAll() };
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        poll.releaseAll();
        sse.endAll();
        await ws.close(opts.closeGraceMs ?? 1000);
        server.closeAllConnections(); // idle keep-alive sockets would hold server.close() open
        await serverClosed;
        await bus.close();
      })();
      return closing;
    },
  };
}
