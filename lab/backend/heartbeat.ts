// Server-side liveness check (the pattern from the ws README): every interval, terminate each
// socket that has not answered the previous ping with a pong, then ping the rest. This is what
// finds half-open sockets a silent NAT or load balancer left behind; close() alone never would.

import type { WebSocket, WebSocketServer } from 'ws';

export interface Heartbeat {
  /** Start watching a new socket (it counts as alive until the first ping goes unanswered). */
  track(ws: WebSocket): void;
  stop(): void;
}

export function startHeartbeat(wss: WebSocketServer, intervalMs: number, onTerminate: () => void): Heartbeat {
  const alive = new WeakSet<WebSocket>();
  if (intervalMs <= 0) return { track() {}, stop() {} };

  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        onTerminate();
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, intervalMs);
  timer.unref();

  return {
    track(ws) {
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
    },
    stop() {
      clearInterval(timer);
    },
  };
}
