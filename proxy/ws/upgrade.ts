/**
 * The sidecar's upgrade handler. Each upgrade request becomes an UpgradeAttempt, a small state
 * machine with one named handler per event:
 *
 *   received ──begin──▶ checking ──checked──▶ connecting ──onUpstreamUpgrade──▶ open
 *       │                  │                      │
 *       └──────────────────┴──────────────────────┴──▶ refused   (the one refusal path)
 *
 * - `begin`: normalises the target, validates the request, resolves the client id;
 * - `checking`: origin, auth and limits run before anything reaches the backend; a check that
 *   throws refuses the upgrade as `internal`;
 * - `connecting`: the request goes to the target with its Sec-WebSocket-* headers unchanged,
 *   plus X-Forwarded-*, the client id and trace context; the client is read meanwhile (bounded)
 *   so a reset or an early frame is noticed;
 * - `open`: a valid 101 (its Sec-WebSocket-Accept checked) starts the relay (WsConnection).
 *
 * Every handshake that ends without a 101 goes through `refuse()`: it releases the checks' slot,
 * counts ws_handshake_failures_total, writes the close-log line, ends the span and answers the
 * client, exactly once. A request whose Upgrade is not `websocket` (h2c, for instance) is not an
 * attempt at all: it is forwarded as a plain request with the upgrade dropped.
 */
import { createHash } from 'node:crypto';
import http, { type ClientRequest, type IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Span } from '@opentelemetry/api';
import type { Cancel } from '../clock.js';
import { recordEnding } from '../connections/ending.js';
import type { SidecarContext } from '../context.js';
import { forwardedRawHeaders, isWebSocketUpgrade } from '../http/forwarded.js';
import { rawHead, writeRawError } from '../http/raw-response.js';
import { normaliseTarget } from '../http/target.js';
import { type CloseInitiator, type HandshakeFailureReason, statusClass } from '../metrics/definitions.js';
import { isResourceExhaustion } from '../resources.js';
import { resolveClientId } from '../telemetry/client-id.js';
import { redactTarget } from '../telemetry/redact.js';
import {
  injectTraceHeaders,
  recordedTraceId,
  setHandshakeStatus,
  startConnectionSpan,
} from '../telemetry/tracing.js';
import { WsConnection } from './connection.js';

const noop = () => {};
/** Bytes a client may send between its upgrade request and the 101 before it is cut off. */
const EARLY_BYTES_MAX = 1024 * 1024;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createUpgradeHandler(ctx: SidecarContext, plain: RequestHandler) {
  return (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    // Listen for errors before anything asynchronous happens: a client reset while we wait for
    // the backend must not crash the process.
    socket.on('error', noop);
    if (!isWebSocketUpgrade(req)) {
      forwardIgnoringUpgrade(req, socket, head, plain);
      return;
    }
    new UpgradeAttempt(ctx, req, socket, head).begin();
  };
}

/**
 * A request that asks for another protocol (`Upgrade: h2c`, `Upgrade: TLS/1.0`, ...) is answered
 * as a server that does not speak it would: the Upgrade is ignored and the request goes through
 * the plain HTTP path, on a connection that closes after the response. Only requests without a
 * body are forwarded; the parser has already handed us the socket, so a body could not be read.
 */
function forwardIgnoringUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, plain: RequestHandler) {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody || head.length > 0) {
    writeRawError(
      socket,
      400,
      'socketlens: a request that asks for a protocol upgrade must not carry a body',
    );
    return;
  }
  // The relay drops Upgrade and every header the Connection header names (HTTP2-Settings).
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.end();
  });
  res.once('close', () => {
    if (!res.writableFinished) socket.destroy();
  });
  plain(req, res);
}

type AttemptState = 'received' | 'checking' | 'connecting' | 'open' | 'refused';

/** How a refusal answers the client. */
type Answer =
  | { kind: 'error'; message: string; headers?: Record<string, string> }
  | { kind: 'relay'; res: IncomingMessage }
  | { kind: 'none' };

interface Refusal {
  reason: HandshakeFailureReason;
  status: number;
  detail: string | null;
  answer: Answer;
  statusClass?: string;
  initiator?: CloseInitiator | null;
}

export class UpgradeAttempt {
  state: AttemptState = 'received';
  private readonly t0: number;
  private readonly id: string;
  private readonly peer: string;
  private path: string;
  private clientId: string;
  private release: (() => void) | null = null;
  private span: Span | null = null;
  private upReq: ClientRequest | null = null;
  private cancelTimer: Cancel | null = null;
  private readonly early: Buffer[] = [];
  private earlyBytes = 0;

  constructor(
    private readonly ctx: SidecarContext,
    private readonly req: IncomingMessage,
    private readonly socket: Socket,
    private readonly head: Buffer,
  ) {
    this.t0 = ctx.clock.now();
    this.id = ctx.nextId();
    this.peer = socket.remoteAddress ?? '';
    this.path = redactTarget(req.url ?? '/', ctx.redact);
    this.clientId = '';
  }

  // ---- received ----

  begin(): void {
    const { req, ctx } = this;
    const target = normaliseTarget(req.url);
    if (target === null) {
      this.refuse(badRequest('target', 'socketlens: the request target is not a path or an http(s) URL'));
      return;
    }
    req.url = target;
    this.path = redactTarget(target, ctx.redact);
    this.clientId = resolveClientId(req, ctx.config.clientIdHeader, ctx.config.clientIdQuery);
    if (req.method !== 'GET') {
      this.refuse(badRequest('method', 'socketlens: a WebSocket upgrade must be a GET'));
      return;
    }
    if (!req.headers.host) {
      // HTTP/1.1 requires Host; Node checks it for requests but not for upgrades.
      this.refuse(badRequest('missing_host', 'socketlens: the request has no Host header'));
      return;
    }
    if (!req.headers['sec-websocket-key']) {
      this.refuse(badRequest('missing_key', 'socketlens: the upgrade has no Sec-WebSocket-Key'));
      return;
    }
    if (ctx.drain.refusing) {
      this.refuse({
        reason: 'draining',
        status: 503,
        detail: null,
        answer: {
          kind: 'error',
          message: 'socketlens: this instance is draining, reconnect elsewhere',
          headers: { 'Retry-After': String(ctx.drain.retryAfterSeconds) },
        },
      });
      return;
    }
    this.socket.once('close', this.onClientGone);
    this.socket.on('data', this.onEarlyData);
    this.state = 'checking';
    this.runChecks().catch((err) => this.onCheckThrew(err));
  }

  // ---- checking ----

  private async runChecks(): Promise<void> {
    const checks = this.ctx.checks;
    if (checks === null) {
      this.applyFault();
      return;
    }
    const verdict = await checks.check(this.req);
    if (this.state !== 'checking') {
      // The client left while the checks ran; its refusal is already recorded.
      if (verdict.ok) verdict.release?.();
      return;
    }
    if (!verdict.ok) {
      this.refuse({
        reason: verdict.reason,
        status: verdict.status,
        detail: verdict.detail ?? null,
        answer: { kind: 'error', message: verdict.message, headers: verdict.headers },
      });
      return;
    }
    this.release = verdict.release ?? null;
    if (verdict.principal) this.clientId = verdict.principal;
    this.applyFault();
  }

  /** The fault API (--faults) may reject this upgrade or hold it before the backend sees it. */
  private applyFault(): void {
    const fault = this.ctx.faults?.onUpgrade(
      this.clientId,
      this.req.url ?? '/',
      this.req.headers['sec-websocket-protocol'],
    );
    if (fault?.kind === 'reject') {
      this.refuse({
        reason: 'fault',
        status: fault.status,
        detail: fault.faultId,
        answer: {
          kind: 'error',
          message: `socketlens: fault ${fault.faultId} rejected this upgrade`,
          headers: fault.headers,
        },
      });
      return;
    }
    if (fault?.kind === 'delay') {
      this.ctx.clock.after(fault.delayMs, () => {
        if (this.state === 'checking') this.connect();
      });
      return;
    }
    this.connect();
  }

  private onCheckThrew(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    this.refuse({
      reason: 'internal',
      status: 500,
      detail: `check_failed:${e?.code ?? e?.name ?? 'Error'}`,
      answer: { kind: 'error', message: 'socketlens: the upgrade could not be checked' },
    });
  }

  // ---- connecting ----

  private connect(): void {
    const { ctx, req } = this;
    const { config } = ctx;
    this.state = 'connecting';
    const span = startConnectionSpan({
      transport: 'websocket',
      req,
      socket: this.socket,
      path: this.path,
      clientId: this.clientId,
    });
    this.span = span;
    const extra: Record<string, string> = { [config.clientIdHeader]: this.clientId };
    injectTraceHeaders(span, extra);
    const target = config.target;
    const secure = target.protocol === 'https:';
    const upReq = (secure ? https : http).request({
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (secure ? 443 : 80),
      method: 'GET',
      path: req.url,
      headers: forwardedRawHeaders(req, extra) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      // No agent: with createConnection given, Node opens the socket directly.
      // Half-open TCP is passed through as it is: a FIN from one end is relayed as a FIN.
      createConnection: (opts: net.NetConnectOpts & tls.ConnectionOptions) =>
        secure ? tls.connect(opts) : net.connect({ ...opts, allowHalfOpen: true }),
    } as http.RequestOptions);
    this.upReq = upReq;
    upReq.on('socket', (s: Socket) => ctx.sockets.hold(s));
    upReq.on('upgrade', this.onUpstreamUpgrade);
    upReq.on('response', this.onUpstreamResponse);
    upReq.on('error', this.onUpstreamError);
    this.cancelTimer = ctx.clock.after(config.handshakeTimeout, this.onTimeout);
    upReq.end();
  }

  private readonly onEarlyData = (chunk: Buffer): void => {
    // Bytes a client sends before its 101 are kept (bounded) and relayed after it.
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > EARLY_BYTES_MAX) this.socket.destroy();
  };

  private readonly onClientGone = (): void => {
    // 499: nginx's convention for "the client closed the request before the answer".
    this.refuse({
      reason: 'client_aborted',
      status: 499,
      detail: this.state === 'checking' ? 'during_checks' : 'before_answer',
      answer: { kind: 'none' },
      initiator: 'client',
    });
  };

  private readonly onTimeout = (): void => {
    this.refuse({
      reason: 'timeout',
      status: 504,
      detail: 'handshake_timeout',
      answer: { kind: 'error', message: 'socketlens: the backend did not answer the upgrade in time' },
    });
  };

  private readonly onUpstreamError = (err: NodeJS.ErrnoException): void => {
    const code = err.code ?? 'unknown';
    if (isResourceExhaustion(code)) {
      this.ctx.reportExhaustion(code, 'upgrade');
      this.refuse({
        reason: 'resource_exhausted',
        status: 503,
        detail: code,
        answer: { kind: 'error', message: `socketlens: the proxy is out of resources (${code})` },
      });
      return;
    }
    this.refuse({
      reason: 'upstream_unavailable',
      status: 502,
      detail: code,
      answer: { kind: 'error', message: backendFailureText(err) },
    });
  };

  private readonly onUpstreamResponse = (res: IncomingMessage): void => {
    const status = res.statusCode ?? 0;
    this.refuse({
      reason: 'upstream_rejected',
      status,
      detail: `status_${status}`,
      statusClass: statusClass(status),
      answer: { kind: 'relay', res },
    });
  };

  private readonly onUpstreamUpgrade = (res: IncomingMessage, upSocket: Socket, upHead: Buffer): void => {
    if (this.state !== 'connecting') {
      upSocket.destroy();
      return;
    }
    const problem = acceptProblem(this.req, res);
    if (problem !== null) {
      // A client would fail this handshake: it is a rejection by the backend, not a connection.
      upSocket.destroy();
      this.refuse({
        reason: 'upstream_rejected',
        status: 502,
        detail: problem,
        statusClass: statusClass(res.statusCode ?? 101),
        answer: { kind: 'error', message: `socketlens: the backend's 101 is invalid (${problem})` },
      });
      return;
    }
    this.open(res, upSocket, upHead);
  };

  // ---- open ----

  private open(res: IncomingMessage, upSocket: Socket, upHead: Buffer): void {
    const { ctx, socket } = this;
    this.settle();
    this.state = 'open';
    const span = this.span!;
    socket.write(rawHead(res.statusCode ?? 101, res.statusMessage, res.rawHeaders));
    const handshakeMs = ctx.clock.now() - this.t0;
    ctx.metrics.observeHandshake(handshakeMs, recordedTraceId(span));
    ctx.metrics.connectionsOpened.inc();
    span.addEvent('handshake', { 'socketlens.handshake_ms': handshakeMs });
    setHandshakeStatus(span, res.statusCode ?? 101);
    const ext = res.headers['sec-websocket-extensions'];
    const decoder = ctx.protocols.wsDecoder(this.req, res, {
      clientId: this.clientId,
      peer: this.peer,
      path: this.path,
    });
    const conn = new WsConnection(ctx, socket, upSocket, {
      decoder,
      id: this.id,
      clientId: this.clientId,
      peer: this.peer,
      path: this.path,
      handshakeMs,
      span,
      compressed: typeof ext === 'string' && /permessage-deflate/i.test(ext),
      protocol: String(res.headers['sec-websocket-protocol'] ?? ''),
    });
    socket.removeListener('error', noop);
    ctx.table.add(conn);
    const release = this.release;
    if (release) conn.done.then(release);
    conn.start(this.early.length > 0 ? Buffer.concat([this.head, ...this.early]) : this.head, upHead);
    ctx.faults?.onOpen(conn);
    if (ctx.stopping) conn.shutdown(1001);
  }

  // ---- refused: the one path for every handshake that ends without a 101 ----

  refuse(r: Refusal): void {
    if (this.state === 'open' || this.state === 'refused') return;
    const { ctx, socket } = this;
    this.settle();
    this.state = 'refused';
    if (r.answer.kind !== 'relay') this.upReq?.destroy();
    this.release?.();
    this.release = null;
    ctx.metrics.handshakeFailures.labels(r.reason, r.statusClass ?? '').inc();
    if (this.span) {
      this.span.addEvent('handshake_failed', { reason: r.reason, status: r.status });
      setHandshakeStatus(this.span, r.status, r.reason);
    }
    recordEnding(ctx, {
      transport: 'websocket',
      id: this.id,
      clientId: this.clientId,
      peer: this.peer,
      path: this.path,
      closeCode: null,
      initiator: r.initiator ?? null,
      reason: r.reason,
      detail: r.detail,
      durationMs: ctx.clock.now() - this.t0,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
      status: r.status,
      span: this.span ?? undefined,
    });
    if (r.answer.kind === 'error') writeRawError(socket, r.status, r.answer.message, r.answer.headers);
    else if (r.answer.kind === 'relay') relayResponse(r.answer.res, socket);
    else socket.destroy();
  }

  /** Leaves the waiting states: no more timer, early reads or client-gone watch. */
  private settle(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.socket.removeListener('close', this.onClientGone);
    this.socket.removeListener('data', this.onEarlyData);
  }
}

function badRequest(detail: string, message: string): Refusal {
  return { reason: 'bad_request', status: 400, detail, answer: { kind: 'error', message } };
}

/** Why a 101 would fail the client's handshake (RFC 6455 4.1), or null when it is valid. */
function acceptProblem(req: IncomingMessage, res: IncomingMessage): string | null {
  const got = res.headers['sec-websocket-accept'];
  if (got === undefined) return 'missing_accept';
  const key = String(req.headers['sec-websocket-key'] ?? '');
  const want = createHash('sha1').update(`${key}${WS_GUID}`).digest('base64');
  return got.trim() === want ? null : 'wrong_accept';
}

/**
 * The 502 body says which failure the sidecar saw: a backend it could not reach, or one that
 * took the upgrade request and then closed (Node: "socket hang up") or reset the connection
 * without answering, which means the backend is up but refuses WebSocket on this path.
 */
export function backendFailureText(err: NodeJS.ErrnoException): string {
  if (err.message === 'socket hang up')
    return 'socketlens: the backend closed the connection without answering the upgrade';
  if (err.code === 'ECONNRESET')
    return 'socketlens: the backend reset the connection without answering the upgrade';
  return `socketlens: the backend is unreachable (${err.code ?? err.message})`;
}

/**
 * Relays a non-101 answer to an upgrade request as the backend sent it: status line, headers
 * in their order and case, and the body (re-chunked when it came chunked). Then closes.
 */
function relayResponse(res: IncomingMessage, socket: Socket): void {
  socket.write(rawHead(res.statusCode ?? 502, res.statusMessage, res.rawHeaders));
  const chunked = /chunked/i.test(String(res.headers['transfer-encoding'] ?? ''));
  res.on('data', (chunk: Buffer) => {
    if (chunked) socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    if (chunked) socket.write('\r\n');
  });
  res.on('end', () => {
    if (chunked) socket.end('0\r\n\r\n');
    else socket.end();
  });
  res.on('error', () => socket.destroy());
  socket.on('close', () => res.destroy());
}
