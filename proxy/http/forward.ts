/**
 * The plain-HTTP path: every request that is not a WebSocket upgrade is relayed to the target
 * with node:http (streaming, unbuffered, X-Forwarded-* added; the client's header order and case
 * kept). On the way the sidecar:
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
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Counter } from 'prom-client';
import type { SidecarContext } from '../context.js';
import type { EnginePollingRequest } from '../protocols/engineio/transports.js';
import { statusClass, TRANSPORTS, type Transport } from '../metrics/definitions.js';
import { resolveClientId } from '../telemetry/client-id.js';
import { recordEnding } from '../connections/ending.js';
import { isResourceExhaustion } from '../resources.js';
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

export type HttpHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Closes the idle keep-alive connections to the target. */
  close(): void;
};

/**
 * Request headers that concern only the client's leg (hop-by-hop), or that the relay sets itself.
 * `trailer` goes too: the relay does not forward trailers. `upgrade` goes because a request on
 * this path is relayed as a plain one (an h2c attempt, or a WebSocket upgrade a hop stripped).
 */
const DROPPED_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'trailer',
  'upgrade',
  'x-forwarded-for',
  'x-forwarded-port',
  'x-forwarded-proto',
]);
/** Response headers that concern only the target's leg; Node frames the body toward the client itself. */
const DROPPED_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

/** The labelled children of socketlens_http_requests_total, made once: no label hashing per request. */
class RequestCounters {
  /** Keyed by transport index × 1000 + status (0 for a status outside 100..599). */
  private readonly children = new Map<number, Counter.Internal>();
  constructor(private readonly counter: Counter<string>) {}
  inc(transport: Transport, status: number): void {
    const key = TRANSPORTS.indexOf(transport) * 1000 + (status >= 100 && status <= 599 ? status : 0);
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.counter.labels(transport, statusClass(status));
      this.children.set(key, child);
    }
    child.inc();
  }
}

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
  const requestOf = secure ? https.request : http.request;
  const hostname = config.target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(config.target.port || (secure ? 443 : 80));
  const counters = new RequestCounters(metrics.httpRequests);
  const clientIdHeader = config.clientIdHeader.toLowerCase();
  const upstreamConnection = agent ? 'keep-alive' : 'close';

  const longpoll = (path: string) =>
    config.longpollPaths.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

  /** The backend answered: tap it for the live connection, count it, relay its head and body. */
  const onResponse = (req: IncomingMessage, res: ServerResponse, st: RequestState, up: IncomingMessage) => {
    const status = up.statusCode ?? 0;
    const type = up.headers['content-type'];
    if (st.transport !== 'longpoll' && type !== undefined && /^text\/event-stream/i.test(type)) {
      st.transport = 'sse';
      st.stream = track(ctx, 'sse', st.clientId, req, res);
    }
    st.stream?.observe(up);
    st.engine?.response(up);
    counters.inc(st.transport, status);
    if (res.headersSent || res.destroyed) {
      up.resume();
      return;
    }
    res.writeHead(status, up.statusMessage, responseHeaders(up.rawHeaders));
    // A backend connection that breaks mid-body must not leave the client waiting.
    up.once('close', () => {
      if (!up.complete && !res.writableEnded) res.destroy();
    });
    // With --faults an SSE stream's or long-poll's body goes through its fault relay.
    const faultRelay = st.stream?.relay;
    if (faultRelay) faultRelay.attach(up);
    else up.pipe(res);
  };

  const onError = (
    req: IncomingMessage,
    res: ServerResponse,
    st: RequestState,
    err: NodeJS.ErrnoException,
  ) => {
    // Out of descriptors or memory ourselves: not the backend's fault, and said so (503, not 502).
    const ours = isResourceExhaustion(err.code);
    if (ours) ctx.reportExhaustion(err.code!, 'http');
    // The client went away first: nothing to answer.
    if (req.socket.destroyed) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = ours ? 503 : 502;
    counters.inc(st.transport, status);
    const body = ours
      ? `socketlens: the proxy is out of resources (${err.code})\n`
      : `socketlens: the backend is unavailable (${err.code ?? err.message})\n`;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  /** Sends the request on to the target, streaming its body, over a pooled keep-alive connection. */
  const relay = (req: IncomingMessage, res: ServerResponse, st: RequestState, path: string): void => {
    const up: ClientRequest = requestOf({
      hostname,
      port,
      method: req.method,
      path,
      headers: requestHeaders(req, clientIdHeader, st.clientId, upstreamConnection, config.target.host),
      agent: agent ?? false,
      setHost: false,
    });
    up.on('response', (r: IncomingMessage) => onResponse(req, res, st, r));
    up.on('error', (err: Error) => onError(req, res, st, err));
    // A client that leaves before the answer is complete takes the backend request with it.
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    st.engine?.request();
    const h = req.headers;
    if (
      h['transfer-encoding'] !== undefined ||
      (h['content-length'] !== undefined && h['content-length'] !== '0')
    ) {
      req.once('error', () => up.destroy());
      req.pipe(up);
    } else {
      up.end();
    }
  };

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
      if (st.transport === 'longpoll') st.stream = track(ctx, 'longpoll', clientId, req, res);
      if (engine) {
        st.stream?.belongTo(engine);
        res.once('close', () => engine.closed());
      }
      relay(req, res, st, target);
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

/**
 * The request head as sent to the target: the client's headers in their order and case, less
 * the hop-by-hop ones, with X-Forwarded-For/-Port/-Proto appended to what the client sent,
 * X-Forwarded-Host set when absent, the client id, and the target leg's own Connection.
 */
function requestHeaders(
  req: IncomingMessage,
  clientIdHeader: string,
  clientId: string,
  connection: string,
  targetHost: string,
): string[] {
  const raw = req.rawHeaders;
  const h = req.headers;
  const listed = connectionOptions(h.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (DROPPED_REQUEST.has(name) || name === clientIdHeader || listed?.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  const host = h.host;
  // An HTTP/1.0 request may come without Host; the target gets its own authority then.
  if (host === undefined) out.push('host', targetHost);
  const encrypted = (req.socket as TLSSocket).encrypted === true;
  const port = host === undefined ? null : /:(\d+)$/.exec(host);
  out.push(
    'x-forwarded-for',
    appendValue(h['x-forwarded-for'], req.socket.remoteAddress ?? ''),
    'x-forwarded-port',
    appendValue(h['x-forwarded-port'], port ? port[1] : encrypted ? '443' : '80'),
    'x-forwarded-proto',
    appendValue(h['x-forwarded-proto'], encrypted ? 'https' : 'http'),
  );
  if (h['x-forwarded-host'] === undefined) out.push('x-forwarded-host', host ?? '');
  out.push(clientIdHeader, clientId, 'connection', connection);
  return out;
}

const PLAIN_CONNECTION = /^\s*(?:keep-alive|close)\s*$/i;

/**
 * The header names the client's Connection header lists besides close and keep-alive, such as
 * HTTP2-Settings in an h2c attempt: they are for the client's leg only (RFC 9110, 7.6.1).
 * Null, and nothing allocated, for the usual `keep-alive` or no Connection header at all.
 */
function connectionOptions(value: string | undefined): Set<string> | null {
  if (value === undefined || PLAIN_CONNECTION.test(value)) return null;
  let out: Set<string> | null = null;
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    out ??= new Set();
    out.add(name);
  }
  return out;
}

function appendValue(prev: string | string[] | undefined, value: string): string {
  if (prev === undefined || prev === '') return value;
  return `${Array.isArray(prev) ? prev.join(',') : prev},${value}`;
}

/** The target's response headers in their order and case, less those of the target's own leg. */
function responseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (DROPPED_RESPONSE.has(raw[i].toLowerCase())) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
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
