/** Helpers of the target drills: a quiet WebSocket client that records pings, and small figures. */
import { type TrackedSocket, toWs, track } from '../drills/util.js';
import type { TargetSpec } from './types.js';

export interface WatchedSocket extends TrackedSocket {
  /** performance.now() of each ping the service sent (ping frames, or engine.io ping packets). */
  pings: number[];
  /** Bytes of data messages received. */
  received: number;
}

/** True when the WebSocket path is an engine.io 4 endpoint (Socket.IO), e.g. /socket.io/?EIO=4&transport=websocket. */
export function isEngineIo(target: TargetSpec): boolean {
  return /[?&]EIO=4(&|$)/.test(target.wsPath);
}

/**
 * A client like a browser tab: answers pings (ws does that itself), never pings on its own. On an
 * engine.io path it speaks what that protocol requires of a client: the Socket.IO CONNECT after
 * the open packet, and a pong packet ("3") for each ping packet ("2"); its heartbeat is messages.
 */
export function openClient(baseUrl: string, target: TargetSpec, prefix = ''): WatchedSocket {
  const t = track(toWs(baseUrl, `${prefix}${target.wsPath}`)) as WatchedSocket;
  t.pings = [];
  t.received = 0;
  const eio = isEngineIo(target);
  t.ws.on('ping', () => t.pings.push(performance.now()));
  t.ws.on('message', (d: Buffer, isBinary: boolean) => {
    t.received += d.length;
    if (!eio || isBinary) return;
    const packet = d.toString();
    if (packet === '2') {
      t.pings.push(performance.now());
      t.ws.send('3');
    } else if (packet.startsWith('0{')) {
      t.ws.send('40');
    }
  });
  return t;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Median gap between successive timestamps, or null with fewer than two. */
export function medianGap(times: number[]): number | null {
  if (times.length < 2) return null;
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)]!;
}

export const HEARTBEAT_FIX =
  'ping every client on an interval below your shortest idle timeout (e.g. every 20 s) and close it when the pong does not come back within a timeout: Python websockets ping_interval=20, ping_timeout=20; Node ws: ws.ping() on an interval and ws.terminate() on a missed pong; Socket.IO pingInterval/pingTimeout';
