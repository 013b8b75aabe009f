/**
 * The admin requests of the drain and the rebalancing:
 *
 *   GET  /drain                       status (phase, remaining, closed), JSON
 *   POST /drain[?window=&delay=&code=] start a drain without exit (202; 200 if one already runs)
 *   POST /drain/cancel                stop closing and serve again
 *   POST /rebalance?share=0.25[&window=&code=]  close that share of the connections over the window
 *   GET  /prestop                     for a Kubernetes httpGet preStop hook: start the drain and
 *                                     answer once it is over (the kubelet's hook can only GET)
 *
 * A bad parameter is a 400 naming it; a rebalancing during a drain is a 409.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../config/units.js';
import { DrainBusyError, type DrainRequest } from '../connections/drain-control.js';
import type { SidecarContext } from '../context.js';

class BadParam extends Error {}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function durationParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const ms = parseDuration(v);
  if (ms === null || ms < 0) throw new BadParam(`${name}: "${v}" is not a duration (e.g. 10s, 500ms)`);
  return ms;
}

function codeParam(q: URLSearchParams): number | undefined {
  const v = q.get('code');
  if (v === null) return undefined;
  const code = Number(v);
  if (!Number.isInteger(code) || code < 1000 || code > 4999)
    throw new BadParam(`code: "${v}" must be a close code from 1000 to 4999`);
  return code;
}

function shareParam(q: URLSearchParams): number {
  const v = q.get('share');
  const share = Number(v);
  if (v === null || !(share > 0 && share <= 1))
    throw new BadParam(`share: "${v ?? ''}" must be a number in (0, 1]`);
  return share;
}

function drainRequest(q: URLSearchParams): DrainRequest {
  return { windowMs: durationParam(q, 'window'), delayMs: durationParam(q, 'delay'), code: codeParam(q) };
}

/** Answers the drain requests; false for any other path, so the admin server goes on. */
export async function handleDrainRoute(
  ctx: SidecarContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const route = `${req.method} ${url.pathname}`;
  const drain = ctx.drain;
  try {
    switch (route) {
      case 'GET /drain':
        json(res, 200, drain.status());
        return true;
      case 'POST /drain': {
        const already = drain.refusing;
        void drain.begin(drainRequest(url.searchParams));
        json(res, already ? 200 : 202, drain.status());
        return true;
      }
      case 'POST /drain/cancel':
        json(res, drain.cancel() ? 200 : 409, drain.status());
        return true;
      case 'POST /rebalance': {
        const share = shareParam(url.searchParams);
        void drain.rebalance({
          share,
          windowMs: durationParam(url.searchParams, 'window'),
          code: codeParam(url.searchParams),
        });
        json(res, 202, drain.status());
        return true;
      }
      case 'GET /prestop': {
        const summary = await drain.begin(drainRequest(url.searchParams));
        json(res, 200, { ...drain.status(), closed: summary.closed, left_open: summary.leftOpen });
        return true;
      }
    }
  } catch (err) {
    if (err instanceof BadParam) {
      json(res, 400, { error: err.message });
      return true;
    }
    if (err instanceof DrainBusyError) {
      json(res, 409, { error: err.message, code: err.code });
      return true;
    }
    throw err;
  }
  return false;
}
