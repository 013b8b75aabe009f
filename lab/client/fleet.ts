/**
 * A fleet of fallback-ladder clients (RealtimeClient, with its default backoff) in a child Node
 * process, so their CPU does not compete with the sidecars a drill measures. The parent asks, the
 * child (fleet-worker.ts) answers; nothing crosses the channel per client event.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { TransportName } from './message.js';

export interface FleetOptions {
  baseUrl: string;
  count: number;
  /** Clients connecting at the same time during the start (default 50). */
  connectBatch?: number;
  connectTimeoutMs?: number;
}

export interface FleetCounts {
  open: number;
  /** Clients that gave up for good (SL_CLIENT_GAVE_UP). */
  gaveUp: number;
  byTransport: Record<TransportName, number>;
}

export type FleetRequest =
  | { id: number; op: 'start'; options: FleetOptions }
  | { id: number; op: 'counts' }
  | { id: number; op: 'whenAllOpen'; timeoutMs: number }
  | { id: number; op: 'exit' };

export type FleetAnswer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface Fleet {
  readonly pid: number;
  counts(): Promise<FleetCounts>;
  /** Resolves once every client is open (rejects after timeoutMs, naming how many are). */
  whenAllOpen(timeoutMs: number): Promise<void>;
  /** Closes every client and ends the child. Idempotent. */
  close(): Promise<void>;
}

/** Starts the fleet; resolves once every client connected (or rejects). */
export async function spawnFleet(opts: FleetOptions, startTimeoutMs = 30_000): Promise<Fleet> {
  const child: ChildProcess = fork(new URL('./fleet-worker.js', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const p of pending.values()) p.reject(new Error(`fleet process exited (${signal ?? code})`));
      pending.clear();
      resolve();
    });
  });
  child.on('error', () => {});
  child.on('message', (msg: FleetAnswer) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  });
  const call = <T>(body: Omit<FleetRequest, 'id'>, timeoutMs = 60_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error('fleet process is gone'));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        if (pending.delete(id)) reject(new Error(`fleet ${body.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ ...body, id } as FleetRequest);
    });
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await call({ op: 'exit' }, 5000).catch(() => child.kill('SIGKILL'));
      await exited;
      clearTimeout(kill);
    })();
    return closing;
  };
  try {
    await call({ op: 'start', options: opts } as Omit<FleetRequest, 'id'>, startTimeoutMs);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    pid: child.pid!,
    counts: () => call<FleetCounts>({ op: 'counts' }),
    whenAllOpen: async (timeoutMs) => {
      await call({ op: 'whenAllOpen', timeoutMs } as Omit<FleetRequest, 'id'>, timeoutMs + 5000);
    },
    close,
  };
}
