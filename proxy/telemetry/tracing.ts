/**
 * One OpenTelemetry span per connection, through @opentelemetry/api only.
 *
 * With no SDK registered the API hands out non-recording spans and a no-op propagator, so the
 * cost is one small object per connection and nothing per message. `setupTracingFromEnv()`
 * registers the SDK when the standard OTEL_* variables ask for an exporter (see otel-setup.ts);
 * the SDK is only loaded then.
 *
 * Attribute names follow the stable semantic conventions wherever one exists (server.*,
 * client.*, network.*, url.path, user_agent.original, http.*, error.type). WebSocket has no
 * convention yet, so what is specific to it lives under `socketlens.*`. README "Traces" lists
 * every attribute; SPAN_ATTRIBUTES below is that list, and a test holds the two together.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_NETWORK_TRANSPORT,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';

export { setupTracingFromEnv } from './otel-setup.js';

export const SPAN_NAME = 'ws.connection';
const tracer = () => trace.getTracer('socketlens');

/** Every attribute a ws.connection span can carry (README "Traces" documents each). */
export const SPAN_ATTRIBUTES = [
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_CLIENT_ADDRESS,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_URL_PATH,
  ATTR_USER_AGENT_ORIGINAL,
  ATTR_ERROR_TYPE,
  'socketlens.transport',
  'socketlens.client_id',
  'socketlens.close.code',
  'socketlens.close.initiator',
  'socketlens.close.reason',
  'socketlens.bytes_in',
  'socketlens.bytes_out',
  'socketlens.messages_in',
  'socketlens.messages_out',
] as const;

/** Header values are cut to this length on a span: they come from traffic. */
const MAX_HEADER_ATTR = 256;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.slice(0, MAX_HEADER_ATTR);
}

/** Host header split into name and port ("[::1]:8080", "example.com", "10.0.0.1:80"). */
function splitHost(host: string): { name: string; port: number | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return { name: host, port: null };
  return { name: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : null };
}

/**
 * The original client: the first X-Forwarded-For entry when a hop in front of the sidecar set
 * one (the semantic conventions take it from there), else the socket's peer. For tracing only;
 * no decision is made on it.
 */
function originalClient(req: IncomingMessage, peer: string): string {
  const xff = header(req, 'x-forwarded-for');
  const first = xff?.split(',')[0].trim();
  return first || peer;
}

export interface SpanRequest {
  readonly transport: string;
  readonly req: IncomingMessage;
  readonly socket: Socket;
  /** The request target, redacted. */
  readonly path: string;
  readonly clientId: string;
}

export function startConnectionSpan(r: SpanRequest): Span {
  const span = tracer().startSpan(SPAN_NAME, { kind: SpanKind.SERVER });
  if (span.isRecording()) {
    const peer = r.socket.remoteAddress ?? '';
    const host = splitHost(header(r.req, 'host') ?? '');
    const q = r.path.indexOf('?');
    const attrs: Record<string, string | number> = {
      [ATTR_SERVER_ADDRESS]: host.name,
      [ATTR_SERVER_PORT]: host.port ?? r.socket.localPort ?? 0,
      [ATTR_CLIENT_ADDRESS]: originalClient(r.req, peer),
      [ATTR_NETWORK_PEER_ADDRESS]: peer,
      [ATTR_NETWORK_PEER_PORT]: r.socket.remotePort ?? 0,
      [ATTR_NETWORK_TRANSPORT]: 'tcp',
      // The connection is opened by an HTTP/1.1 GET with Upgrade; WebSocket has no protocol name
      // of its own in the conventions yet.
      [ATTR_NETWORK_PROTOCOL_NAME]: 'http',
      [ATTR_NETWORK_PROTOCOL_VERSION]: r.req.httpVersion,
      [ATTR_HTTP_REQUEST_METHOD]: r.req.method ?? 'GET',
      [ATTR_URL_PATH]: q === -1 ? r.path : r.path.slice(0, q),
      'socketlens.transport': r.transport,
      'socketlens.client_id': r.clientId,
    };
    const ua = header(r.req, 'user-agent');
    if (ua !== undefined) attrs[ATTR_USER_AGENT_ORIGINAL] = ua;
    span.setAttributes(attrs);
  }
  return span;
}

/** Adds W3C trace context headers for `span` (a no-op without a registered propagator). */
export function injectTraceHeaders(span: Span, headers: Record<string, string>): void {
  propagation.inject(trace.setSpan(context.active(), span), headers);
}

/** The trace id of a recording span, else null (no SDK, or not sampled). */
export function recordedTraceId(span: Span): string | null {
  if (!span.isRecording()) return null;
  return span.spanContext().traceId;
}

/** The handshake's answer: 101, or the status the client got instead. */
export function setHandshakeStatus(span: Span, status: number, errorType?: string): void {
  if (!span.isRecording()) return;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (errorType !== undefined) span.setAttribute(ATTR_ERROR_TYPE, errorType);
  // As for HTTP servers: a 5xx is the server side's failure, a 4xx the client's.
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}

export interface SpanClose {
  code: number | null;
  initiator: string | null;
  reason: string;
  detail?: string | null;
  /** HTTP status of a failed upgrade. */
  status?: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export function endConnectionSpan(span: Span, c: SpanClose): void {
  if (span.isRecording()) {
    const attrs: Record<string, string | number> = {
      'socketlens.close.reason': c.reason,
      'socketlens.bytes_in': c.bytesIn,
      'socketlens.bytes_out': c.bytesOut,
      'socketlens.messages_in': c.messagesIn,
      'socketlens.messages_out': c.messagesOut,
    };
    if (c.detail) attrs['socketlens.close.detail'] = c.detail;
    if (c.status !== undefined) attrs['http.response.status_code'] = c.status;
    if (c.code !== null) attrs['socketlens.close.code'] = c.code;
    if (c.initiator !== null) attrs['socketlens.close.initiator'] = c.initiator;
    span.addEvent('close', attrs);
    span.setAttributes(attrs);
    if (c.code === 1006 || c.code === 1011) {
      span.setAttribute(ATTR_ERROR_TYPE, c.reason || String(c.code));
      span.setStatus({ code: SpanStatusCode.ERROR, message: c.reason });
    }
  }
  span.end();
}
