/**
 * Connection churn against a sidecar in front of the fault backend: many short connect /
 * message / close cycles, a mix of clean closes, resets from either side and timeouts, run by
 * `concurrency` workers. Each cycle checks what its client sees; the caller checks the sidecar's
 * side (close-log reasons, metrics, fds, RSS) against `expectedReasons()`.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { seededRandom } from '../../../lab/client/backoff.js';
import { rawClient, upgradeRequest } from './wire.js';

export type CycleKind =
  | 'clean'
  | 'client_reset'
  | 'client_abandon'
  | 'server_close'
  | 'server_reset'
  | 'handshake_timeout'
  | 'request_timeout';

/** Relative weights of the cycle kinds. */
export const DEFAULT_MIX: Record<CycleKind, number> = {
  clean: 50,
  client_reset: 12,
  client_abandon: 8,
  server_close: 10,
  server_reset: 8,
  handshake_timeout: 8,
  request_timeout: 4,
};

/** The close-log reason the sidecar must write for each kind (null: no line, counted elsewhere). */
export const REASON: Record<CycleKind, string | null> = {
  clean: 'client_close',
  client_reset: 'client_error',
  client_abandon: 'client_disconnect',
  server_close: 'server_close',
  server_reset: 'server_error',
  handshake_timeout: 'timeout',
  request_timeout: null,
};

/** Kinds that complete the upgrade (one ws_connections_opened_total each). */
export const OPENS: ReadonlySet<CycleKind> = new Set([
  'clean',
  'client_reset',
  'client_abandon',
  'server_close',
  'server_reset',
]);

export interface ChurnOptions {
  port: number;
  cycles: number;
  concurrency: number;
  mix?: Record<CycleKind, number>;
  /** Client source addresses 127.0.0.2 .. 127.0.0.(1+n); 0 = the default source. */
  sourceAddresses?: number;
  /** Per-cycle deadline; a cycle still running after it is a failure. */
  cycleTimeoutMs?: number;
  /** Called about every `progressEvery` completed cycles. */
  onProgress?: (stats: ChurnStats) => void;
  progressEvery?: number;
  /** Deterministic choice of kinds. */
  seed?: number;
  /** performance.now() after which no new cycle starts (running ones finish). */
  deadline?: number;
}

export interface ChurnStats {
  done: number;
  ok: number;
  failed: number;
  /** Cycles started, by kind (all of them have finished when runChurn resolves). */
  byKind: Record<CycleKind, number>;
  /** First failures, for the report. */
  failures: string[];
  elapsedMs: number;
}

function rawSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
    }),
  ]);
}

async function openWs(port: number, localAddress: string | undefined): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { localAddress, perMessageDeflate: false });
  const [ev] = await Promise.race([
    once(ws, 'open').then(() => ['open'] as const),
    once(ws, 'error').then(([e]) => [`error ${(e as Error).message}`] as const),
    once(ws, 'unexpected-response').then(
      ([, res]) => [`status ${(res as { statusCode: number }).statusCode}`] as const,
    ),
  ]);
  if (ev !== 'open') {
    ws.terminate();
    throw new Error(`upgrade failed: ${ev}`);
  }
  ws.on('error', () => {});
  return ws;
}

async function echo(ws: WebSocket, text: string): Promise<void> {
  const got = once(ws, 'message');
  ws.send(text);
  const [data] = await got;
  if (String(data) !== text) throw new Error(`echo mismatch: ${String(data)} != ${text}`);
}

async function closeCode(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
  const [code] = await once(ws, 'close');
  return code as number;
}

/** One cycle of `kind`; throws when the client sees something other than expected. */
export async function runCycle(
  kind: CycleKind,
  port: number,
  n: number,
  localAddress?: string,
): Promise<void> {
  switch (kind) {
    case 'clean': {
      const ws = await openWs(port, localAddress);
      await echo(ws, `m${n}`);
      const closed = closeCode(ws);
      ws.close(1000);
      const code = await closed;
      if (code !== 1000) throw new Error(`clean close got ${code}`);
      return;
    }
    case 'client_reset': {
      const ws = await openWs(port, localAddress);
      await echo(ws, `m${n}`);
      const closed = once(ws, 'close');
      rawSocket(ws).resetAndDestroy();
      await closed;
      return;
    }
    case 'client_abandon': {
      const ws = await openWs(port, localAddress);
      const closed = once(ws, 'close');
      ws.terminate(); // TCP FIN, no close frame
      await closed;
      return;
    }
    case 'server_close': {
      const ws = await openWs(port, localAddress);
      await echo(ws, `m${n}`);
      const closed = closeCode(ws);
      ws.send('!close:4000');
      const code = await closed;
      if (code !== 4000) throw new Error(`server close got ${code}`);
      return;
    }
    case 'server_reset': {
      const ws = await openWs(port, localAddress);
      await echo(ws, `m${n}`);
      const closed = closeCode(ws);
      ws.send('!reset');
      const code = await closed;
      if (code !== 1006) throw new Error(`server reset got ${code}`);
      return;
    }
    case 'handshake_timeout':
    case 'request_timeout': {
      const c = await rawClient(port, { localAddress });
      const req = upgradeRequest(port, '/silent');
      // request_timeout: stop before the blank line, so the head never completes.
      c.socket.write(kind === 'handshake_timeout' ? req : req.slice(0, 40));
      const err = await c.closed;
      const head = c.received().toString('latin1');
      const want = kind === 'handshake_timeout' ? 'HTTP/1.1 504 ' : 'HTTP/1.1 408 ';
      if (err !== null || !head.startsWith(want)) {
        throw new Error(`${kind}: got ${JSON.stringify(head.slice(0, 40))} error ${err}`);
      }
      return;
    }
  }
}

export function pickKinds(cycles: number, mix: Record<CycleKind, number>, seed: number): CycleKind[] {
  const rand = seededRandom(seed);
  const entries = Object.entries(mix) as Array<[CycleKind, number]>;
  const total = entries.reduce((s, [, w]) => s + w, 0);
  const out: CycleKind[] = [];
  for (let i = 0; i < cycles; i++) {
    let r = rand() * total;
    let kind = entries[0][0];
    for (const [k, w] of entries) {
      if (r < w) {
        kind = k;
        break;
      }
      r -= w;
    }
    out.push(kind);
  }
  return out;
}

/** The close-log reason counts the sidecar must show after `kinds` ran (all succeeded). */
export function expectedReasons(byKind: Record<CycleKind, number>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [kind, n] of Object.entries(byKind) as Array<[CycleKind, number]>) {
    const r = REASON[kind];
    if (r !== null && n > 0) m.set(r, (m.get(r) ?? 0) + n);
  }
  return m;
}

export async function runChurn(opts: ChurnOptions): Promise<ChurnStats> {
  const kinds = pickKinds(opts.cycles, opts.mix ?? DEFAULT_MIX, opts.seed ?? 1);
  const byKind = Object.fromEntries(Object.keys(DEFAULT_MIX).map((k) => [k, 0])) as Record<CycleKind, number>;
  const stats: ChurnStats = { done: 0, ok: 0, failed: 0, byKind, failures: [], elapsedMs: 0 };
  const t0 = performance.now();
  const every = opts.progressEvery ?? 1000;
  const timeout = opts.cycleTimeoutMs ?? 15_000;
  let next = 0;
  const worker = async (w: number) => {
    const localAddress = opts.sourceAddresses ? `127.0.0.${2 + (w % opts.sourceAddresses)}` : undefined;
    while (next < kinds.length && !(opts.deadline && performance.now() > opts.deadline)) {
      const i = next++;
      const kind = kinds[i];
      byKind[kind]++;
      try {
        await withTimeout(runCycle(kind, opts.port, i, localAddress), timeout, `cycle ${i} (${kind})`);
        stats.ok++;
      } catch (err) {
        stats.failed++;
        if (stats.failures.length < 20)
          stats.failures.push(`cycle ${i} (${kind}): ${(err as Error).message}`);
      }
      stats.done++;
      if (opts.onProgress && stats.done % every === 0) {
        stats.elapsedMs = performance.now() - t0;
        opts.onProgress(stats);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  stats.elapsedMs = performance.now() - t0;
  return stats;
}
