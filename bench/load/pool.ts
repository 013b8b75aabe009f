/** The load generator: a few worker threads (bench/load/worker.ts) driven from the main thread. */
import { Worker } from 'node:worker_threads';

/** A worker's measured window opens ('start', after its warm-up) and closes ('end'). */
export type Phase = 'start' | 'end';

export class LoadPool {
  private readonly workers: Worker[];
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; onPhase?: (phase: Phase) => void }
  >();

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./worker.js', import.meta.url));
      w.on('message', (m: { id: number; result?: unknown; error?: string; phase?: Phase }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.phase !== undefined) {
          p.onPhase?.(m.phase);
          return;
        }
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(`load worker: ${m.error}`));
        else p.resolve(m.result);
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      return w;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs `cmd` on every worker at once, with per-worker args; resolves with all results.
   * `onPhase` hears each worker's 'start' and 'end' of its measured window.
   */
  all<R>(cmd: string, argsFor: (worker: number) => unknown, onPhase?: (phase: Phase) => void): Promise<R[]> {
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<R>((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onPhase });
            w.postMessage({ id, cmd, args: argsFor(i) });
          }),
      ),
    );
  }

  /** Opens, closes or resets the shared measuring window of every worker (LatencyArgs.sharedWindow). */
  window(state: 'waiting' | 'open' | 'closed'): void {
    for (const w of this.workers) w.postMessage({ window: state });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Splits `total` into `parts` near-equal integers. */
export function split(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}
