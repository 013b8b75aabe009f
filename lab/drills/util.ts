/** Small helpers shared by drills: timing, WebSocket clients with recorded outcomes. */
import { WebSocket } from 'ws';
import { RealtimeClient, type RealtimeMessage } from '../client/realtime-client.js';
import type { WebSocketConstructor } from '../client/transport.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or times out. */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function toWs(httpUrl: string, path: string): string {
  return `${httpUrl.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`;
}

export interface TrackedSocket {
  ws: WebSocket;
  /** performance.now() at the 101, or null. */
  openedAt: number | null;
  closedAt: number | null;
  closeCode: number | null;
  closeReason: string;
  /** HTTP status when the server answered the upgrade with something else than 101. */
  status: number | null;
  /** Resolves when the socket opened (true) or failed before opening (false). */
  opened: Promise<boolean>;
  closed: Promise<void>;
}

export function track(
  url: string,
  opts: { headers?: Record<string, string>; localAddress?: string; timeoutMs?: number } = {},
): TrackedSocket {
  const ws = new WebSocket(url, {
    headers: opts.headers,
    localAddress: opts.localAddress,
    handshakeTimeout: opts.timeoutMs ?? 5000,
    perMessageDeflate: false,
  });
  let resolveOpened!: (v: boolean) => void;
  let resolveClosed!: () => void;
  const t: TrackedSocket = {
    ws,
    openedAt: null,
    closedAt: null,
    closeCode: null,
    closeReason: '',
    status: null,
    opened: new Promise((r) => {
      resolveOpened = r;
    }),
    closed: new Promise((r) => {
      resolveClosed = r;
    }),
  };
  ws.on('open', () => {
    t.openedAt = performance.now();
    resolveOpened(true);
  });
  ws.on('unexpected-response', (_req, res) => {
    t.status = res.statusCode ?? null;
    res.resume();
    ws.terminate();
  });
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    t.closedAt = performance.now();
    t.closeCode = code;
    t.closeReason = reason.toString();
    resolveOpened(false);
    resolveClosed();
  });
  return t;
}

export function ms(n: number): string {
  return `${Math.round(n)} ms`;
}

/** The most timestamps within any `windowMs` sliding window. */
export function peakPerWindow(times: number[], windowMs = 100): number {
  const t = [...times].sort((a, b) => a - b);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo += 1;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/** Counts per fixed bucket of `bucketMs`, from `from`, as chart points [bucketStartMs, count]. */
export function histogramPoints(
  times: number[],
  from: number,
  to: number,
  bucketMs = 100,
): Array<[number, number]> {
  const n = Math.max(1, Math.ceil((to - from) / bucketMs));
  const counts = new Array<number>(n).fill(0);
  for (const t of times) {
    const i = Math.floor((t - from) / bucketMs);
    if (i >= 0 && i < n) counts[i]! += 1;
  }
  return counts.map((c, i) => [i * bucketMs, c]);
}

/**
 * The fallback-ladder client pointed at a path prefix of the edge (e.g. `${edge}/stripped/`).
 * Its paths are relative, so they resolve under the prefix instead of replacing it.
 */
export function ladderClient(opts: {
  baseUrl: string;
  room: string;
  connectTimeoutMs: number;
  pollTimeoutMs: number;
  maxRetries: number;
  onMessage: (m: RealtimeMessage) => void;
}): RealtimeClient {
  return new RealtimeClient({
    ...opts,
    paths: { ws: 'ws', sse: 'sse', poll: 'poll', publish: 'publish' },
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
}
