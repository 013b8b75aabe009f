/**
 * The sidecar's own upgrade handler. For each WebSocket upgrade request it:
 * 1. runs the configured checks (origin, auth, limits) before anything reaches the backend;
 * 2. forwards the request to the target with its Sec-WebSocket-* headers unchanged, plus
 *    X-Forwarded-*, the client id and trace context;
 * 3. relays the target's answer: a 101 (and any bytes after it) starts the relay; any other
 *    answer is relayed as it came, and counted as reason=upstream_rejected;
 * 4. answers 502 (upstream_unavailable) or 504 (timeout) itself when the target fails.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { SidecarContext } from '../context.js';
import { forwardedRawHeaders, isWebSocketUpgrade } from '../http/forwarded.js';
import { rawHead, writeRawError } from '../http/raw-response.js';
import { type CloseInitiator, type HandshakeFailureReason, statusClass } from '../metrics/definitions.js';
import { resolveClientId } from '../telemetry/client-id.js';
import { redactTarget } from '../telemetry/redact.js';
import {
  endConnectionSpan,
  injectTraceHeaders,
  recordedTraceId,
  setHandshakeStatus,
  startConnectionSpan,
} from '../telemetry/tracing.js';
import { WsConnection } from './connection.js';

const noop = () => {};
/** Bytes a client may send between its upgrade request and the 101 before it is cut off. */
const EARLY_BYTES_MAX = 1024 * 1024;

export function createUpgradeHandler(ctx: SidecarContext) {
  return (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    // Listen for errors before anything asynchronous happens: a client reset while we wait for
    // the backend must not crash the process.
    socket.on('error', noop);
    handleUpgrade(ctx, req, socket, head).catch((err) => {
      socket.destroy();
      process.stderr.write(`socketlens: upgrade handler failed: ${(err as Error).stack ?? err}\n`);
    });
  };
}

async function handleUpgrade(
  ctx: SidecarContext,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  const t0 = performance.now();
  const { config, metrics } = ctx;
  const path = redactTarget(req.url ?? '/', ctx.redact);
  const peer = socket.remoteAddress ?? '';
  const fail = (reason: HandshakeFailureReason, status: number, detail: string, cls = '') => {
    metrics.handshakeFailures.labels(reason, cls).inc();
    ctx.log({
      ts: new Date().toISOString(),
      event: 'connection_closed',
      transport: 'websocket',
      id: ctx.nextId(),
      client_id: '',
      peer,
      path,
      close_code: null,
      initiator: null,
      reason: detail ? `${reason}:${detail}` : reason,
      duration_ms: Math.round(performance.now() - t0),
      bytes_in: 0,
      bytes_out: 0,
      messages_in: 0,
      messages_out: 0,
      status,
    });
  };

  if (!isWebSocketUpgrade(req) || req.method !== 'GET') {
    fail('bad_request', 400, `upgrade:${String(req.headers.upgrade ?? '')}`);
    writeRawError(
      socket,
      400,
      'socketlens: only WebSocket upgrades (GET with Upgrade: websocket) are proxied',
    );
    return;
  }

  if (!req.headers.host) {
    // HTTP/1.1 requires Host; Node checks it for requests but not for upgrades.
    fail('bad_request', 400, 'missing Host');
    writeRawError(socket, 400, 'socketlens: the request has no Host header');
    return;
  }

  let clientId: string | null = null;
  let release: (() => void) | undefined;
  if (ctx.checks) {
    const verdict = await ctx.checks.check(req);
    if (!verdict.ok) {
      fail(verdict.reason, verdict.status, '');
      writeRawError(socket, verdict.status, verdict.message, verdict.headers);
      return;
    }
    if (verdict.principal) clientId = verdict.principal;
    release = verdict.release;
  }
  if (socket.destroyed) {
    release?.();
    return;
  }
  clientId ??= resolveClientId(req, config.clientIdHeader, config.clientIdQuery);
  const fault = ctx.faults?.onUpgrade(clientId, req.url ?? '/', req.headers['sec-websocket-protocol']);
  if (fault?.kind === 'reject') {
    release?.();
    fail('fault', fault.status, fault.faultId);
    writeRawError(
      socket,
      fault.status,
      `socketlens: fault ${fault.faultId} rejected this upgrade`,
      fault.headers,
    );
    return;
  }
  if (fault?.kind === 'delay') {
    await new Promise((r) => setTimeout(r, fault.delayMs));
    if (socket.destroyed) {
      release?.();
      return;
    }
  }

  const span = startConnectionSpan({ transport: 'websocket', req, socket, path, clientId });
  const extra: Record<string, string> = { [config.clientIdHeader]: clientId };
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
    // No agent: with createConnection given, Node opens the socket directly (agent: false would
    // build a new Agent for every upgrade).
    // Half-open TCP is passed through as it is: a FIN from one end is relayed as a FIN.
    createConnection: (opts: net.NetConnectOpts & tls.ConnectionOptions) =>
      secure ? tls.connect(opts) : net.connect({ ...opts, allowHalfOpen: true }),
  } as http.RequestOptions);

  /** The handshake ended without a 101: give back the checks' slot, count and log it, end the span. */
  const abandon = (
    reason: HandshakeFailureReason,
    status: number,
    detail: string,
    cls = '',
    initiator: CloseInitiator | null = null,
  ) => {
    release?.();
    fail(reason, status, detail, cls);
    span.addEvent('handshake_failed', { reason, status });
    setHandshakeStatus(span, status, reason);
    endConnectionSpan(span, {
      code: null,
      initiator,
      reason,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
    });
  };

  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('close', onClientGone);
    socket.removeListener('data', onEarly);
    return true;
  };
  const timer = setTimeout(() => {
    if (!settle()) return;
    upReq.destroy();
    abandon('timeout', 504, 'backend did not answer the upgrade');
    writeRawError(socket, 504, 'socketlens: the backend did not answer the upgrade in time');
  }, config.handshakeTimeout);
  const onClientGone = () => {
    if (!settle()) return;
    upReq.destroy();
    // 499: nginx's convention for "the client closed the request before the answer".
    abandon('client_aborted', 499, 'client left before the backend answered', '', 'client');
  };
  socket.once('close', onClientGone);
  // Read the client while the backend answers: that is how a reset or close is noticed at all.
  // Bytes a client sends before its 101 are kept (bounded) and relayed after it.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  const onEarly = (chunk: Buffer) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes > EARLY_BYTES_MAX) socket.destroy();
  };
  socket.on('data', onEarly);

  upReq.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    if (!settle()) {
      upSocket.destroy();
      return;
    }
    if (socket.destroyed) {
      upSocket.destroy();
      release?.();
      span.end();
      return;
    }
    socket.write(rawHead(res.statusCode ?? 101, res.statusMessage, res.rawHeaders));
    const handshakeMs = performance.now() - t0;
    metrics.observeHandshake(handshakeMs, recordedTraceId(span));
    metrics.connectionsOpened.inc();
    span.addEvent('handshake', { 'socketlens.handshake_ms': handshakeMs });
    setHandshakeStatus(span, res.statusCode ?? 101);
    const ext = res.headers['sec-websocket-extensions'];
    const decoder = ctx.protocols.wsDecoder(req, res, { clientId: clientId!, peer, path });
    const conn = new WsConnection(ctx, socket, upSocket, {
      decoder,
      id: ctx.nextId(),
      clientId: clientId!,
      peer,
      path,
      handshakeMs,
      span,
      compressed: typeof ext === 'string' && /permessage-deflate/i.test(ext),
      protocol: String(res.headers['sec-websocket-protocol'] ?? ''),
    });
    socket.removeListener('error', noop);
    ctx.table.add(conn);
    if (release) conn.done.then(release);
    conn.start(early.length > 0 ? Buffer.concat([head, ...early]) : head, upHead);
    ctx.faults?.onOpen(conn);
  });

  upReq.on('response', (res: IncomingMessage) => {
    if (!settle()) {
      res.destroy();
      return;
    }
    const status = res.statusCode ?? 0;
    abandon('upstream_rejected', status, String(status), statusClass(status));
    relayResponse(res, socket);
  });

  upReq.on('error', (err: NodeJS.ErrnoException) => {
    if (!settle()) return;
    abandon('upstream_unavailable', 502, err.code ?? err.message);
    writeRawError(socket, 502, backendFailureText(err));
  });

  upReq.end();
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
