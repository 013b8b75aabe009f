/**
 * The global bound on bytes queued toward clients (--max-total-buffer-bytes). Every pipe reports
 * changes of its queue; while the total is over the bound, pipes that write are paused, and they
 * are released together once the total falls below 90% of it.
 */
/** What the budget needs of a pipe: a pause flag it may set, and a way to lift it. */
export interface BudgetMember {
  externalPause: boolean;
  release(): void;
}

export class BufferBudget {
  total = 0;
  private readonly paused = new Set<BudgetMember>();

  constructor(private readonly limit: number) {}

  change(pipe: BudgetMember, delta: number): void {
    this.total += delta;
    if (this.total > this.limit) {
      if (!pipe.externalPause) {
        pipe.externalPause = true;
        this.paused.add(pipe);
      }
    } else if (this.paused.size > 0 && this.total <= this.limit * 0.9) {
      for (const p of this.paused) p.release();
      this.paused.clear();
    }
  }

  forget(pipe: BudgetMember): void {
    this.paused.delete(pipe);
  }
}
