// A swarm of raw `ws` clients for the reconnect-storm drills (Node only).
// Each client reconnects on its own backoff after a close (or a failed attempt) and every step
// lands in a timeline, so a drill can compare strategies by the spike of attempts and the time
// until everyone is back. Bounded: connects in flight are capped (connectConcurrency), each
// client gives up after maxRetries failures in a row, and stop() ends everything.
//
// runSwarm() runs the clients in the calling process. spawnSwarm() runs the same swarm in a child
// Node process (swarm-worker.ts, over IPC), so a drill that also hosts the sidecar and the backend
// does not let the clients' CPU flatten the very spike it wants the sidecar to see.

import { type ChildProcess, fork } from 'node:child_process';
import { WebSocket } from 'ws';
import { type BackoffOptions, createBackoff, seededRandom } from './backoff.js';
import type { SwarmEvent } from './swarm-timeline.js';

export {
  countByKind,
  peakAttemptsPerWindow,
  type SwarmEvent,
  type SwarmEventKind,
  timeUntilAllBack,
} from './swarm-timeline.js';

export interface SwarmOptions {
  /** ws://host:port/ws?room=... */
  url: string;
  count: number;
  /** Each client gets its own backoff built from these (random is per client, see seed). */
  backoff: Omit<BackoffOptions, 'random'>;
  /** Seeds each client's jitter with seed + index, so a run can be replayed; Math.random if absent. */
  seed?: number;
  /** Source addresses to spread clients over (round-robin), e.g. 127.0.0.2, 127.0.0.3, ... */
  localAddresses?: string[];
  /** Most handshakes in flight at once (default 50). */
  connectConcurrency?: number;
  /** A handshake that takes longer fails (default 5000 ms). */
  handshakeTimeoutMs?: number;
  onEvent?(event: SwarmEvent): void;
}

export interface Swarm {
  readonly timeline: readonly SwarmEvent[];
  /** Epoch ms (performance.timeOrigin based, sub-ms) of the timeline's t = 0. */
  readonly epochMs: number;
  openCount(): number;
  /** Resolves once all clients are open (rejects after timeoutMs). */
  whenAllOpen(timeoutMs: number): Promise<void>;
  /** Closes every client (1000) and stops reconnecting; events after stop() are not recorded. */
  stop(): Promise<void>;
}

class Semaphore {
  #free: number;
  #queue: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }
  release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#free += 1;
  }
}

export function runSwarm(opts: SwarmOptions): Swarm {
  if (!Number.isInteger(opts.count) || opts.count < 1)
    throw new RangeError(`count must be >= 1, got ${opts.count}`);
  const started = performance.now();
  const timeline: SwarmEvent[] = [];
  const slots = new Semaphore(opts.connectConcurrency ?? 50);
  const sockets = new Map<number, WebSocket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const opened = new Set<number>();
  const openWaiters = new Set<() => void>();
  let stopped = false;

  const record = (client: number, kind: SwarmEvent['kind'], extra: Partial<SwarmEvent> = {}) => {
    if (stopped) return;
    const event: SwarmEvent = { t: performance.now() - started, client, kind, ...extra };
    timeline.push(event);
    opts.onEvent?.(event);
  };

  function startClient(index: number): void {
    const backoff = createBackoff({
      ...opts.backoff,
      random: opts.seed === undefined ? Math.random : seededRandom(opts.seed + index),
    });
    const localAddress = opts.localAddresses?.length
      ? opts.localAddresses[index % opts.localAddresses.length]
      : undefined;

    const scheduleRetry = () => {
      if (stopped) return;
      const delay = backoff.next();
      if (delay === null) {
        record(index, 'give_up');
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        void attempt();
      }, delay);
      timers.add(timer);
    };

    const attempt = async () => {
      await slots.acquire();
      if (stopped) {
        slots.release();
        return;
      }
      record(index, 'attempt');
      let wasOpen = false;
      let slotHeld = true;
      let lastError: string | undefined;
      const releaseSlot = () => {
        if (slotHeld) slots.release();
        slotHeld = false;
      };
      const ws = new WebSocket(opts.url, {
        localAddress,
        handshakeTimeout: opts.handshakeTimeoutMs ?? 5000,
        perMessageDeflate: false,
      });
      sockets.set(index, ws);
      ws.on('open', () => {
        wasOpen = true;
        releaseSlot();
        backoff.reset();
        opened.add(index);
        record(index, 'open');
        if (opened.size === opts.count) for (const w of openWaiters) w();
      });
      ws.on('error', (err) => {
        lastError = err.message;
      });
      ws.on('close', (code) => {
        releaseSlot();
        if (sockets.get(index) === ws) sockets.delete(index);
        opened.delete(index);
        if (wasOpen) record(index, 'close', { code });
        else record(index, 'fail', { code, ...(lastError ? { error: lastError } : {}) });
        scheduleRetry();
      });
    };

    void attempt();
  }

  for (let i = 0; i < opts.count; i++) startClient(i);

  return {
    timeline,
    epochMs: performance.timeOrigin + started,
    openCount: () => opened.size,
    whenAllOpen(timeoutMs) {
      if (opened.size === opts.count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          openWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          openWaiters.delete(done);
          reject(new Error(`only ${opened.size}/${opts.count} clients open after ${timeoutMs} ms`));
        }, timeoutMs);
        openWaiters.add(done);
      });
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closing = [...sockets.values()].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'swarm stopped');
            else ws.terminate();
          }),
      );
      // A peer that never answers our close frame must not hold stop() open.
      const force = setTimeout(() => {
        for (const ws of sockets.values()) ws.terminate();
      }, 2000);
      await Promise.all(closing);
      clearTimeout(force);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The same swarm in a child process.

/** Parent → child (swarm-worker.ts). Every request carries an id; the answer echoes it. */
export type SwarmRequest =
  | { id: number; op: 'start'; options: Omit<SwarmOptions, 'onEvent'> }
  | { id: number; op: 'now' }
  | { id: number; op: 'openCount' }
  | { id: number; op: 'whenAllOpen'; timeoutMs: number }
  | { id: number; op: 'whenAllReconnected'; sinceT: number; timeoutMs: number }
  | { id: number; op: 'timeline' }
  | { id: number; op: 'stop' }
  | { id: number; op: 'exit' };

/** Child → parent. */
export type SwarmAnswer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface RemoteSwarm {
  /** pid of the child process. */
  readonly pid: number;
  /** Epoch ms (performance.timeOrigin based) of the timeline's t = 0, for mapping onto other clocks. */
  readonly epochMs: number;
  /** The swarm's clock (ms since its start) now, as read in the child. */
  now(): Promise<number>;
  openCount(): Promise<number>;
  /** Resolves once all clients are open (rejects after timeoutMs). */
  whenAllOpen(timeoutMs: number): Promise<void>;
  /**
   * Resolves once every client has closed at least once at or after swarm time `sinceT` and all
   * are open again (rejects after timeoutMs). Nothing crosses the IPC channel while it waits.
   */
  whenAllReconnected(sinceT: number, timeoutMs: number): Promise<void>;
  /** A copy of the timeline so far. */
  timeline(): Promise<SwarmEvent[]>;
  /** Closes every client and stops reconnecting (as Swarm.stop()); resolves with the final timeline. */
  stop(): Promise<SwarmEvent[]>;
  /** stop(), then ends the child process (killed if it does not exit within 5 s). Idempotent. */
  close(): Promise<void>;
}

export interface SpawnSwarmOptions {
  /** Extra node flags for the child (default none). */
  execArgv?: string[];
  /** How long start may take (default 10 s). */
  startTimeoutMs?: number;
}

/** Runs runSwarm(opts) in a child Node process; clients start connecting once this resolves. */
export async function spawnSwarm(
  opts: Omit<SwarmOptions, 'onEvent'>,
  spawnOpts: SpawnSwarmOptions = {},
): Promise<RemoteSwarm> {
  if (!Number.isInteger(opts.count) || opts.count < 1)
    throw new RangeError(`count must be >= 1, got ${opts.count}`);
  const child: ChildProcess = fork(new URL('./swarm-worker.js', import.meta.url), [], {
    execArgv: spawnOpts.execArgv ?? [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let exited = false;
  let exitInfo = '';
  const exitedP = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      for (const p of pending.values()) p.reject(new Error(`swarm process exited (${exitInfo})`));
      pending.clear();
      resolve();
    });
  });
  child.on('error', () => {}); // surfaces as 'exit' or as a failed request
  child.on('message', (msg: SwarmAnswer) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  });
  type Body = SwarmRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
  const call = <T>(body: Body): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited || !child.connected) {
        reject(new Error(`swarm process is gone (${exitInfo || 'disconnected'})`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...body, id } as SwarmRequest, (err) => {
        if (err && pending.delete(id)) reject(err);
      });
    });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (!exited) {
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        try {
          await call({ op: 'exit' });
        } catch {
          child.kill('SIGKILL');
        }
        await exitedP;
        clearTimeout(kill);
      }
    })();
    return closing;
  };

  let started: { epochMs: number; pid: number };
  try {
    const timeoutMs = spawnOpts.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    started = await Promise.race([
      call<{ epochMs: number; pid: number }>({ op: 'start', options: opts }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`swarm process did not start in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (err) {
    child.kill('SIGKILL');
    await exitedP;
    throw err;
  }

  return {
    pid: started.pid,
    epochMs: started.epochMs,
    now: () => call<number>({ op: 'now' }),
    openCount: () => call<number>({ op: 'openCount' }),
    whenAllOpen: async (timeoutMs) => {
      await call({ op: 'whenAllOpen', timeoutMs });
    },
    whenAllReconnected: async (sinceT, timeoutMs) => {
      await call({ op: 'whenAllReconnected', sinceT, timeoutMs });
    },
    timeline: () => call<SwarmEvent[]>({ op: 'timeline' }),
    stop: () => call<SwarmEvent[]>({ op: 'stop' }),
    close,
  };
}
