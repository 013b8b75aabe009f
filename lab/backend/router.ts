// The HTTP routes of the demo backend (everything but the WebSocket upgrade itself).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { demoPage } from './demo-page.js';
import { BodyError, intParam, readJsonBody, sendError, sendJson, sendText } from './http-util.js';
import type { LongPollEndpoint } from './longpoll-endpoint.js';
import { isValidRoom } from './message.js';
import type { SseEndpoint } from './sse-endpoint.js';
import type { BackendStats } from './stats.js';
import { serveClientModule } from './static-client.js';
import type { WsEndpoint } from './ws-endpoint.js';

export interface RouterDeps {
  nodeId: string;
  stats: () => BackendStats;
  publish(room: string, data: unknown): Promise<number>;
  ws: WsEndpoint;
  sse: SseEndpoint;
  poll: LongPollEndpoint;
  maxBodyBytes: number;
}

export type Router = (req: IncomingMessage, res: ServerResponse) => void;

const UPGRADE_REQUIRED_TEXT =
  'Upgrade Required: /ws only speaks WebSocket. This request carried Sec-WebSocket-Key but no ' +
  'Upgrade header, so a hop on the way (a proxy without the Upgrade/Connection header pair?) ' +
  'stripped it.\n';

export function createRouter(deps: RouterDeps): Router {
  async function publishRoute(req: IncomingMessage, res: ServerResponse) {
    let body: unknown;
    try {
      body = await readJsonBody(req, deps.maxBodyBytes);
    } catch (err) {
      const e = err instanceof BodyError ? err : new BodyError(400, 'SL_LAB_BODY', (err as Error).message);
      return sendError(res, e.status, e.code, e.message);
    }
    const { room, data } = (body ?? {}) as { room?: unknown; data?: unknown };
    if (!isValidRoom(room))
      return sendError(res, 400, 'SL_LAB_BAD_ROOM', 'body must be {"room": string, "data": any}');
    try {
      const seq = await deps.publish(room, data);
      deps.stats().http.published += 1;
      sendJson(res, 202, { accepted: true, room, seq, node: deps.nodeId });
    } catch (err) {
      const e = err as Error & { code?: string };
      sendError(res, 503, e.code ?? 'SL_LAB_PUBLISH', e.message);
    }
  }

  function disconnectRoute(res: ServerResponse, url: URL) {
    const code = intParam(url.searchParams, 'code', 1012);
    // Only codes a server may put on the wire: 1000-1014 minus the reserved ones, or 3000-4999.
    if (
      code === null ||
      !(
        (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
        (code >= 3000 && code <= 4999)
      )
    ) {
      return sendError(res, 400, 'SL_LAB_BAD_CODE', 'code must be a sendable WebSocket close code');
    }
    const reason = (url.searchParams.get('reason') ?? 'disconnect requested').slice(0, 120);
    const ws = deps.ws.disconnectAll(code, reason);
    const sse = deps.sse.endAll();
    const poll = deps.poll.releaseAll();
    sendJson(res, 200, { ws, sse, poll });
  }

  return (req, res) => {
    res.setHeader('x-backend-node', deps.nodeId);
    const url = new URL(req.url ?? '/', 'http://backend.invalid');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
        res.end(demoPage(deps.nodeId));
        return;
      case 'GET /healthz':
        return sendText(res, 200, 'ok');
      case 'GET /stats':
        return sendJson(res, 200, deps.stats());
      case 'GET /ws':
        // Reaching the request handler means Node saw no valid Upgrade: nothing to switch to.
        deps.stats().http.upgradeRequired += 1;
        return sendText(
          res,
          426,
          req.headers['sec-websocket-key']
            ? UPGRADE_REQUIRED_TEXT
            : 'Upgrade Required: /ws only speaks WebSocket.\n',
          { upgrade: 'websocket' },
        );
      case 'GET /sse':
        return deps.sse.handle(req, res, url);
      case 'GET /poll':
        return deps.poll.handle(req, res, url);
      case 'POST /publish':
        void publishRoute(req, res);
        return;
      case 'POST /admin/disconnect':
        return disconnectRoute(res, url);
    }
    if (req.method === 'GET' && url.pathname.startsWith('/client/')) {
      void serveClientModule(res, url.pathname.slice('/client/'.length));
      return;
    }
    sendError(res, 404, 'SL_LAB_NOT_FOUND', `no route for ${route}`);
  };
}
