/**
 * The plain-HTTP path: every request that is not a WebSocket upgrade is passed to the target by
 * http-proxy-3 (streaming, unbuffered, X-Forwarded-* added). On the way the sidecar:
 * - counts requests that carry Sec-WebSocket-Key but reached the plain path (no `Upgrade:
 *   websocket`, or no `Connection: upgrade`) as ws_handshake_failures_total{reason=
 *   "upgrade_stripped"}: a hop before us dropped the header; each writes one close-log line;
 * - tracks Server-Sent Events responses and long-poll requests as live connections.
 *
 * Connections are kept alive on both legs, each on its own terms: the client's connection stays
 * open as the client asked (pipelined requests are answered in order), and requests to the target
 * reuse connections from a bounded keep-alive agent (--upstream-idle-sockets idle ones at most,
 * each closed after --upstream-idle-timeout). The target's Connection header concerns only the
 * target's leg, so it is not relayed to the client.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import type { SidecarContext } from '../context.js';
import type { EnginePollingRequest } from '../protocols/engineio/transports.js';
import { statusClass, type Transport } from '../metrics/definitions.js';
import { resolveClientId } from '../telemetry/client-id.js';
import { recordEnding } from '../connections/ending.js';
import { redactTarget } from '../telemetry/redact.js';
import { HttpStream } from './stream.js';
import { normaliseTarget, targetPath } from './target.js';

interface RequestState {
  clientId: string;
  transport: Transport;
  stream: HttpStream | null;
  /** An engine.io polling request: its session writes the log line, not the request. */
  engine: EnginePollingRequest | null;
}

const states = new WeakMap<IncomingMessage, RequestState>();

export type HttpHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Closes the idle keep-alive connections to the target. */
  close(): void;
};

export function createHttpHandler(ctx: SidecarContext): HttpHandler {
  const { config, metrics } = ctx;
  const secure = config.target.protocol === 'https:';
  const agent =
    config.upstreamIdleSockets > 0
      ? new (secure ? https.Agent : http.Agent)({
          keepAlive: true,
          maxFreeSockets: config.upstreamIdleSockets,
          timeout: config.upstreamIdleTimeout,
          scheduling: 'lifo',
        })
      : undefined;
  const proxy = createProxyServer({ target: config.target.href, xfwd: true, ws: false, agent });

  proxy.on('proxyReq', (proxyReq, req) => {
    const st = states.get(req as IncomingMessage);
    if (st) proxyReq.setHeader(config.clientIdHeader, st.clientId);
    // The client's Connection header is about its own leg.
    if (agent) proxyReq.setHeader('connection', 'keep-alive');
    st?.engine?.request();
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    // Hop-by-hop: the target's keep-alive choice is not the client's (http-proxy-3 then sets the
    // client's own preference).
    delete proxyRes.headers.connection;
    delete proxyRes.headers['keep-alive'];
    const r = req as IncomingMessage;
    const st = states.get(r);
    if (!st) return;
    const type = String(proxyRes.headers['content-type'] ?? '');
    if (st.transport !== 'longpoll' && type.toLowerCase().startsWith('text/event-stream')) {
      st.transport = 'sse';
      st.stream = track(ctx, 'sse', st.clientId, r, res as ServerResponse);
    }
    st.stream?.observe(proxyRes);
    st.engine?.response(proxyRes);
    metrics.httpRequests.labels(st.transport, statusClass(proxyRes.statusCode ?? 0)).inc();
  });

  proxy.on('error', (err, req, res) => {
    const e = err as NodeJS.ErrnoException;
    const st = states.get(req as IncomingMessage);
    if (st && !(res as ServerResponse).headersSent) metrics.httpRequests.labels(st.transport, '5xx').inc();
    const out = res as ServerResponse | Socket;
    if ('writeHead' in out && !out.headersSent) {
      const body = `socketlens: the backend is unavailable (${e.code ?? e.message})\n`;
      out.writeHead(502, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      out.end(body);
    } else {
      out.destroy();
    }
  });

  const longpoll = (path: string) =>
    config.longpollPaths.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = normaliseTarget(req.url);
    if (target === null) {
      const body = 'socketlens: the request target is not a path or an http(s) URL\n';
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
      res.end(body);
      metrics.clientErrors.labels('bad_request').inc();
      return;
    }
    req.url = target;
    const clientId = resolveClientId(req, config.clientIdHeader, config.clientIdQuery);
    // A WebSocket handshake that arrives here lost its Upgrade (or Connection: upgrade) on the way.
    if (req.headers['sec-websocket-key'] !== undefined) stripped(ctx, req, res, clientId);
    const engine = ctx.protocols.httpRequest(req, {
      clientId,
      peer: req.socket.remoteAddress ?? '',
      path: redactTarget(target, ctx.redact),
    });
    const st: RequestState = {
      clientId,
      transport: engine ? engine.transport : longpoll(targetPath(target)) ? 'longpoll' : 'http',
      stream: null,
      engine,
    };
    if (ctx.drain.refusing && refusedWhileDraining(req, st.transport)) {
      refuseDraining(ctx, res, st.transport === 'longpoll' ? 'longpoll' : 'sse');
      return;
    }
    const forward = (): void => {
      states.set(req, st);
      if (st.transport === 'longpoll') st.stream = track(ctx, 'longpoll', clientId, req, res);
      if (engine) {
        st.stream?.belongTo(engine);
        res.once('close', () => engine.closed());
      }
      proxy.web(req, res);
      // A long-poll meets the faults from its request on (an SSE stream once its body flows).
      if (st.stream?.relay) ctx.faults?.onOpen(st.stream);
    };
    const opening = ctx.faults ? streamOpening(req, st.transport) : null;
    const fault = opening
      ? ctx.faults!.onUpgrade(
          clientId,
          target,
          opening.protocol ?? (engine ? 'engineio' : undefined),
          opening.transport,
        )
      : null;
    if (fault?.kind === 'reject') {
      refuseByFault(ctx, res, opening!.transport, fault.status, fault.faultId, fault.headers);
      return;
    }
    if (fault?.kind === 'delay') {
      // slow-handshake: the backend sees the request (and the client its response head) this much later.
      ctx.clock.after(fault.delayMs, () => {
        if (!res.destroyed && !req.destroyed) forward();
      });
      return;
    }
    forward();
  };
  return Object.assign(handle, { close: () => agent?.destroy() });
}

/** Counts a stripped upgrade and writes its close-log line once the backend's answer is done. */
function stripped(ctx: SidecarContext, req: IncomingMessage, res: ServerResponse, clientId: string): void {
  ctx.metrics.handshakeFailures.labels('upgrade_stripped', '').inc();
  const t0 = ctx.clock.now();
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  res.once('close', () =>
    recordEnding(ctx, {
      transport: 'websocket',
      id: ctx.nextId(),
      clientId,
      peer: req.socket.remoteAddress ?? '',
      path: redactTarget(req.url ?? '/', ctx.redact),
      closeCode: null,
      initiator: null,
      reason: 'upgrade_stripped',
      detail: upgrade === 'websocket' ? 'no_connection_upgrade' : 'no_upgrade',
      durationMs: ctx.clock.now() - t0,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
      status: res.statusCode,
    }),
  );
}

/**
 * A request that opens an SSE stream (the client accepts text/event-stream, as EventSource always
 * does) or a long-poll, and the protocol a fault's `match.protocol` sees in it; null otherwise.
 */
function streamOpening(
  req: IncomingMessage,
  transport: Transport,
): { transport: 'sse' | 'longpoll'; protocol: string | undefined } | null {
  if (transport === 'longpoll') return { transport, protocol: undefined };
  if (transport === 'http' && /text\/event-stream/i.test(String(req.headers.accept ?? '')))
    return { transport: 'sse', protocol: 'sse' };
  return null;
}

/** A fault (reject-upgrades) answers a new SSE stream or long-poll with its status before the backend sees it. */
function refuseByFault(
  ctx: SidecarContext,
  res: ServerResponse,
  transport: 'sse' | 'longpoll',
  status: number,
  faultId: string,
  headers: Record<string, string>,
): void {
  ctx.metrics.httpRequests.labels(transport, statusClass(status)).inc();
  const body = `socketlens: fault ${faultId} rejected this request\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** While draining, new long-polls and SSE streams go elsewhere; short requests are still served. */
function refusedWhileDraining(req: IncomingMessage, transport: Transport): boolean {
  if (transport === 'longpoll') return true;
  return /text\/event-stream/i.test(String(req.headers.accept ?? ''));
}

function refuseDraining(ctx: SidecarContext, res: ServerResponse, transport: 'sse' | 'longpoll'): void {
  ctx.metrics.httpRequests.labels(transport, '5xx').inc();
  const body = 'socketlens: this instance is draining, reconnect elsewhere\n';
  res.writeHead(503, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(ctx.drain.retryAfterSeconds),
    connection: 'close',
  });
  res.end(body);
}

function track(
  ctx: SidecarContext,
  transport: 'sse' | 'longpoll',
  clientId: string,
  req: IncomingMessage,
  res: ServerResponse,
): HttpStream {
  const s = new HttpStream(
    ctx,
    transport,
    ctx.nextId(),
    clientId,
    req.socket.remoteAddress ?? '',
    redactTarget(req.url ?? '/', ctx.redact),
    req,
    res,
  );
  ctx.table.add(s);
  return s;
}
