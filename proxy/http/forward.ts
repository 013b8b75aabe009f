/**
 * The plain-HTTP path: every request that is not a WebSocket upgrade is passed to the target by
 * http-proxy-3 (streaming, unbuffered, X-Forwarded-* added). On the way the sidecar:
 * - counts requests that carry Sec-WebSocket-Key without `Upgrade: websocket` as
 *   ws_handshake_failures_total{reason="upgrade_stripped"}: a hop before us dropped the header;
 * - tracks Server-Sent Events responses and long-poll requests as live connections.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import type { SidecarContext } from '../context.js';
import type { EnginePollingRequest } from '../protocols/engineio/transports.js';
import { statusClass, type Transport } from '../metrics/definitions.js';
import { resolveClientId } from '../telemetry/client-id.js';
import { redactTarget } from '../telemetry/redact.js';
import { isWebSocketUpgrade } from './forwarded.js';
import { HttpStream } from './stream.js';

interface RequestState {
  clientId: string;
  transport: Transport;
  stream: HttpStream | null;
  /** An engine.io polling request: its session writes the log line, not the request. */
  engine: EnginePollingRequest | null;
}

const states = new WeakMap<IncomingMessage, RequestState>();

export function createHttpHandler(ctx: SidecarContext) {
  const { config, metrics } = ctx;
  const proxy = createProxyServer({ target: config.target.href, xfwd: true, ws: false });

  proxy.on('proxyReq', (proxyReq, req) => {
    const st = states.get(req as IncomingMessage);
    if (st) proxyReq.setHeader(config.clientIdHeader, st.clientId);
    st?.engine?.request();
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
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

  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.headers['sec-websocket-key'] !== undefined && !isWebSocketUpgrade(req)) {
      metrics.handshakeFailures.labels('upgrade_stripped', '').inc();
    }
    const url = req.url ?? '/';
    const clientId = resolveClientId(req, config.clientIdHeader, config.clientIdQuery);
    const engine = ctx.protocols.httpRequest(req, {
      clientId,
      peer: req.socket.remoteAddress ?? '',
      path: redactTarget(url, ctx.redact),
    });
    const st: RequestState = {
      clientId,
      transport: engine ? engine.transport : longpoll(url.split('?')[0]) ? 'longpoll' : 'http',
      stream: null,
      engine,
    };
    states.set(req, st);
    if (st.transport === 'longpoll') st.stream = track(ctx, 'longpoll', clientId, req, res);
    if (engine) {
      st.stream?.belongTo(engine);
      res.once('close', () => engine.closed());
    }
    proxy.web(req, res);
  };
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
