/**
 * The admin server: /metrics (Prometheus), /healthz (the process is up), /readyz (the target
 * accepts TCP connections and no drain is under way), /connections (JSON of the live
 * connections), the live page, and the drain requests (drain-routes.ts).
 * It binds 127.0.0.1 unless told otherwise.
 */
import { OPENMETRICS_CONTENT_TYPE, wantsOpenMetrics } from '../metrics/openmetrics.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { SidecarContext } from '../context.js';
import { handleFaultRequest } from '../faults/api.js';
import { handleDrainRoute } from './drain-routes.js';
import { createLiveEvents } from './live-events.js';
import { LIVE_PAGE_CSP, LIVE_PAGE_HTML } from './live-page.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** True when a TCP connection to the target opens within `timeoutMs`. */
export function targetReachable(target: URL, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    const sock = net.connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/**
 * The DNS-rebinding guard: a page on another origin can point its own name at 127.0.0.1 and
 * read the admin server, but its requests then carry that name as Host. The admin server
 * answers only Hosts a rebinding cannot produce: IP addresses, `localhost` names, its own
 * listen host, the names given in --admin-allow-hosts, and requests with no Host header.
 */
export function adminHostGuard(
  listenHost: string,
  allow: readonly string[],
): (host: string | undefined) => boolean {
  const names = new Set([listenHost.toLowerCase(), ...allow.map((h) => h.toLowerCase())]);
  return (host) => {
    // No Host at all (HTTP/1.0 health checks, such as HAProxy's httpchk) cannot come from a
    // browser, which always sends one: there is nothing to rebind.
    if (host === undefined) return true;
    const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host.trim());
    if (!m) return false;
    const name = m[1].toLowerCase().replace(/\.$/, '');
    if (name.startsWith('[') || net.isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    return names.has(name);
  };
}

export interface AdminServerOptions {
  /** How often /live pushes a snapshot while someone watches (default 1000 ms). */
  liveIntervalMs?: number;
}

export function createAdminServer(
  ctx: SidecarContext,
  extra: AdminRoute[] = [],
  opts: AdminServerOptions = {},
): http.Server {
  const live = createLiveEvents(ctx, { intervalMs: opts.liveIntervalMs });
  const hostAllowed = adminHostGuard(ctx.config.admin?.host ?? '127.0.0.1', ctx.config.adminAllowHosts);
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!hostAllowed(req.headers.host)) {
      send(res, 421, 'text/plain', 'socketlens admin: this Host is not allowed (see --admin-allow-hosts)\n');
      return;
    }
    try {
      if (path === '/faults' || path.startsWith('/faults/')) {
        if (ctx.faults) await handleFaultRequest(ctx.faults, path, req, res);
        else send(res, 404, 'text/plain', 'the fault API is off (start the sidecar with --faults)\n');
        return;
      }
      if (await handleDrainRoute(ctx, req, res)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'text/plain', 'method not allowed\n');
        return;
      }
      switch (path) {
        case '/':
          send(res, 200, 'text/html; charset=utf-8', LIVE_PAGE_HTML, {
            'content-security-policy': LIVE_PAGE_CSP,
            'x-content-type-options': 'nosniff',
          });
          return;
        case '/live':
          live.handle(req, res);
          return;
        case '/metrics':
          if (wantsOpenMetrics(req.headers.accept))
            send(res, 200, OPENMETRICS_CONTENT_TYPE, await ctx.metrics.openMetricsExposition());
          else send(res, 200, ctx.metrics.registry.contentType, await ctx.metrics.exposition());
          return;
        case '/healthz':
          send(res, 200, 'text/plain', 'ok\n');
          return;
        case '/readyz': {
          if (ctx.drain.refusing) {
            send(res, 503, 'text/plain', `draining (${ctx.drain.phase})\n`);
            return;
          }
          const ok = await targetReachable(ctx.config.target);
          send(
            res,
            ok ? 200 : 503,
            'text/plain',
            ok ? 'ready\n' : `target ${ctx.config.target.host} unreachable\n`,
          );
          return;
        }
        case '/connections':
          send(
            res,
            200,
            'application/json',
            `${JSON.stringify({ connections: ctx.table.snapshot() }, null, 1)}\n`,
          );
          return;
      }
      for (const route of extra) if (await route(req, res)) return;
      send(res, 404, 'text/plain', 'not found\n');
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain', `${(err as Error).message}\n`);
      else res.destroy();
    }
  });
  server.on('close', () => live.close());
  return server;
}
