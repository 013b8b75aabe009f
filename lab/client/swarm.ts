// A swarm of raw `ws` clients for the reconnect-storm drills (Node only).
// Each client reconnects on its own backoff after a close (or a failed attempt) and every step
// lands in a timeline, so a drill can compare strategies by the spike of attempts and the time
// until everyone is back. Bounded: connects in flight are capped (connectConcurrency), each
// client gives up after maxRetries failures in a row, and stop() ends everything.

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
        record(index, 'open');
        opened.add(index);
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
