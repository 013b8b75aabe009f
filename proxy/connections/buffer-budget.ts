/**
 * The global bound on bytes queued toward clients (--max-total-buffer-bytes). Every pipe reports
 * changes of its queue; while the total is over the bound, pipes that write are paused, and they
 * are released together once the total falls below 90% of it. A pipe that leaves (its connection
 * ended) takes what it still had queued out of the total.
 *
 * Pausing alone cannot bring the total down when the bytes sit in the queues of clients that do
 * not read: the budget also tells since when the total has been over the bound (`overFor`), and
 * the connections shed the clients that hold bytes without reading (see WsConnection.tick).
 */
import type { Clock } from '../clock.js';

/** What the budget needs of a pipe: a pause flag it may set, and a way to lift it. */
export interface BudgetMember {
  externalPause: boolean;
  release(): void;
}

export class BufferBudget {
  total = 0;
  private readonly paused = new Set<BudgetMember>();
  /** clock.now() when the total last went over the bound; -1 while it is under. */
  private overSince = -1;

  constructor(
    private readonly limit: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  change(pipe: BudgetMember, delta: number): void {
    this.total += delta;
    if (this.total > this.limit) {
      if (this.overSince < 0) this.overSince = this.clock.now();
      if (!pipe.externalPause) {
        pipe.externalPause = true;
        this.paused.add(pipe);
      }
      return;
    }
    this.under();
  }

  private under(): void {
    this.overSince = -1;
    if (this.paused.size > 0 && this.total <= this.limit * 0.9) {
      for (const p of this.paused) p.release();
      this.paused.clear();
    }
  }

  /** How long the total has been over the bound at `now` (ms); -1 when it is under. */
  overFor(now: number): number {
    return this.overSince < 0 ? -1 : now - this.overSince;
  }

  /** A pipe leaves: `queued` is what it still had counted. */
  leave(pipe: BudgetMember, queued: number): void {
    this.paused.delete(pipe);
    this.total -= queued;
    if (this.total <= this.limit) this.under();
  }
}
