/**
 * The sidecar's drain and rebalancing: when and what the staggered closer (drain.ts) closes.
 *
 * A drain (SIGTERM, or an admin request for a drain without exit) moves through explicit phases:
 *
 *   serving ──begin()──▶ notice ──delay──▶ closing ──window──▶ settling ──▶ drained
 *
 * - notice:   /readyz answers 503 and new upgrades, SSE streams and long-polls get 503 with
 *             Retry-After, so load balancers and clients go elsewhere; nothing is closed yet.
 * - closing:  every live connection is closed at its own jittered moment of the window (WebSockets
 *             with the drain close code, SSE streams after a `retry:` field, long-polls with 503).
 * - settling: connections that slipped in late are asked too; closed ones get up to the drain
 *             timeout to finish their closing handshake. The caller cuts whatever is left.
 * - drained:  still refusing; cancel() returns to serving (a drain without exit that was undone).
 *
 * A rebalancing closes a share of the connections over a window with the same closer, without
 * leaving `serving`. Each phase change is one method; start and end are each logged once.
 */
import type { SidecarConfig } from '../config/sidecar-options.js';
import { SocketlensError } from '../errors.js';
import type { SidecarMetrics } from '../metrics/registry.js';
import { type DrainClock, pickShare, realClock, StaggeredClose } from './drain.js';
import type { LiveConnection } from './live.js';
import type { ConnectionTable } from './table.js';

export type DrainKind = 'drain' | 'rebalance';
export type DrainPhase = 'serving' | 'notice' | 'closing' | 'settling' | 'drained';
/** Label `pace` of socketlens_drain_closes_total. */
export type DrainPace = 'staggered' | 'at_once';

/** A window of at least this long counts as staggered (label pace="staggered"). */
export const STAGGERED_MIN_WINDOW_MS = 1000;

export interface DrainRecord {
  ts: string;
  event: 'drain_started' | 'drain_finished';
  kind: DrainKind;
  /** Connections scheduled to close (started), or closed by the schedule (finished). */
  connections: number;
  window_ms: number;
  delay_ms?: number;
  close_code: number;
  share?: number;
  /** finished only: connections still open when the caller stopped waiting. */
  left_open?: number;
  duration_ms?: number;
  outcome?: 'done' | 'cancelled';
}

export type DrainLogger = (record: DrainRecord) => void;

export interface DrainRequest {
  windowMs?: number;
  delayMs?: number;
  code?: number;
  reason?: string;
}

export interface RebalanceRequest {
  /** Share of the live connections to close, 0 < share ≤ 1. */
  share: number;
  windowMs?: number;
  code?: number;
  reason?: string;
}

export interface DrainSummary {
  kind: DrainKind;
  closed: number;
  leftOpen: number;
  durationMs: number;
  outcome: 'done' | 'cancelled';
}

export interface DrainStatus {
  phase: DrainPhase;
  rebalancing: boolean;
  remaining: number;
  closed: number;
}

/** A rebalancing asked for while a drain or another rebalancing runs. */
export class DrainBusyError extends SocketlensError {
  constructor(message: string) {
    super('SL_DRAIN_BUSY', message);
    this.name = 'DrainBusyError';
  }
}

interface Run {
  kind: DrainKind;
  closer: StaggeredClose<LiveConnection> | null;
  asked: Set<LiveConnection>;
  t0: number;
  done: Promise<DrainSummary>;
  cancelled: boolean;
  wake: (() => void) | null;
}

export interface DrainDeps {
  config: SidecarConfig;
  table: ConnectionTable;
  metrics: SidecarMetrics;
  log: DrainLogger;
  clock?: DrainClock;
  random?: () => number;
}

export class DrainControl {
  phase: DrainPhase = 'serving';
  private drain: Run | null = null;
  private rebalancing: Run | null = null;
  private readonly clock: DrainClock;
  private readonly random: () => number;

  constructor(private readonly deps: DrainDeps) {
    this.clock = deps.clock ?? realClock;
    this.random = deps.random ?? Math.random;
  }

  /** New upgrades, SSE streams and long-polls are refused (503) and /readyz answers 503. */
  get refusing(): boolean {
    return this.phase !== 'serving';
  }

  /** Retry-After for refused requests, in whole seconds (at least 1). */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.deps.config.drainRetryAfter / 1000));
  }

  status(): DrainStatus {
    const run = this.drain ?? this.rebalancing;
    return {
      phase: this.phase,
      rebalancing: this.rebalancing !== null,
      remaining: run?.closer?.remaining ?? 0,
      closed: run?.closer?.closed ?? 0,
    };
  }

  /**
   * Starts the drain (idempotent: a second call gets the running drain). Resolves once every
   * closed connection finished its close, or the drain timeout after the last close passed.
   */
  begin(req: DrainRequest = {}): Promise<DrainSummary> {
    if (this.drain) return this.drain.done;
    this.rebalancing?.closer?.cancel();
    const cfg = this.deps.config;
    const windowMs = req.windowMs ?? cfg.drainWindow;
    const delayMs = req.delayMs ?? cfg.drainDelay;
    const code = req.code ?? cfg.drainCloseCode;
    const reason = req.reason ?? 'drain';
    this.phase = 'notice';
    const run = this.newRun('drain');
    this.drain = run;
    this.deps.metrics.drainActive.labels('drain').set(1);
    this.deps.log({
      ts: new Date().toISOString(),
      event: 'drain_started',
      kind: 'drain',
      connections: this.deps.table.size,
      window_ms: windowMs,
      delay_ms: delayMs,
      close_code: code,
    });
    run.done = (async () => {
      await this.sleep(run, delayMs);
      if (!run.cancelled) {
        this.phase = 'closing';
        await this.closeOver(run, [...this.deps.table.connections()], windowMs, code, reason);
      }
      if (!run.cancelled) {
        this.phase = 'settling';
        // Upgrades already past the check when the drain began may have opened since.
        for (const c of this.deps.table.connections()) {
          if (!run.asked.has(c)) this.closeOne(run, c, windowMs, code, reason);
        }
        await this.settle(run);
        if (!run.cancelled) this.phase = 'drained';
      }
      return this.finish(run, windowMs, code);
    })();
    return run.done;
  }

  /** Closes `share` of the live connections over the window; refused while a drain or another rebalancing runs. */
  rebalance(req: RebalanceRequest): Promise<DrainSummary> {
    if (this.drain) throw new DrainBusyError('a drain is under way');
    if (this.rebalancing) throw new DrainBusyError('a rebalancing is under way');
    const cfg = this.deps.config;
    const windowMs = req.windowMs ?? cfg.drainWindow;
    const code = req.code ?? cfg.drainCloseCode;
    const reason = req.reason ?? 'rebalance';
    const run = this.newRun('rebalance');
    this.rebalancing = run;
    const targets = pickShare([...this.deps.table.connections()], req.share, this.random);
    this.deps.metrics.drainActive.labels('rebalance').set(1);
    this.deps.log({
      ts: new Date().toISOString(),
      event: 'drain_started',
      kind: 'rebalance',
      connections: targets.length,
      window_ms: windowMs,
      close_code: code,
      share: req.share,
    });
    run.done = (async () => {
      await this.closeOver(run, targets, windowMs, code, reason);
      this.rebalancing = null;
      return this.finish(run, windowMs, code);
    })();
    return run.done;
  }

  /** Stops a drain or rebalancing: nothing more is closed, and a drain goes back to serving. */
  cancel(): boolean {
    const runs = [this.drain, this.rebalancing].filter((r): r is Run => r !== null);
    for (const run of runs) {
      run.cancelled = true;
      run.closer?.cancel();
      run.wake?.();
    }
    if (this.drain) {
      this.drain = null;
      this.phase = 'serving';
    }
    return runs.length > 0;
  }

  private newRun(kind: DrainKind): Run {
    return {
      kind,
      closer: null,
      asked: new Set(),
      t0: this.clock.now(),
      done: Promise.resolve(null as never),
      cancelled: false,
      wake: null,
    };
  }

  private sleep(run: Run, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const handle = this.clock.setTimer(() => {
        run.wake = null;
        resolve();
      }, ms);
      run.wake = () => {
        this.clock.clearTimer(handle);
        run.wake = null;
        resolve();
      };
    });
  }

  private async closeOver(
    run: Run,
    targets: LiveConnection[],
    windowMs: number,
    code: number,
    reason: string,
  ): Promise<void> {
    const remaining = this.deps.metrics.drainRemaining.labels(run.kind);
    remaining.set(targets.length);
    run.closer = new StaggeredClose({
      targets,
      windowMs,
      clock: this.clock,
      random: this.random,
      close: (c) => this.closeOne(run, c, windowMs, code, reason),
      onProgress: (_closed, left) => remaining.set(left),
    });
    await run.closer.finished;
    remaining.set(0);
  }

  /** One close of the schedule: counted only when the connection was still live. */
  private closeOne(run: Run, c: LiveConnection, windowMs: number, code: number, reason: string): boolean {
    if (!this.deps.table.has(c)) return false;
    run.asked.add(c);
    c.shutdown(code, reason);
    const pace: DrainPace = windowMs >= STAGGERED_MIN_WINDOW_MS ? 'staggered' : 'at_once';
    this.deps.metrics.drainCloses.labels(run.kind, pace).inc();
    return true;
  }

  /** Waits until every asked connection is done, at most the drain timeout. */
  private async settle(run: Run): Promise<void> {
    const pending = [...run.asked].filter((c) => this.deps.table.has(c));
    if (pending.length === 0) return;
    await Promise.race([
      Promise.all(pending.map((c) => c.done)),
      this.sleep(run, this.deps.config.drainTimeout),
    ]);
    run.wake?.();
  }

  private finish(run: Run, windowMs: number, code: number): DrainSummary {
    this.deps.metrics.drainActive.labels(run.kind).set(0);
    this.deps.metrics.drainRemaining.labels(run.kind).set(0);
    const leftOpen = [...run.asked].filter((c) => this.deps.table.has(c)).length;
    const durationMs = this.clock.now() - run.t0;
    const outcome = run.cancelled ? 'cancelled' : 'done';
    const closed = run.asked.size;
    this.deps.log({
      ts: new Date().toISOString(),
      event: 'drain_finished',
      kind: run.kind,
      connections: closed,
      window_ms: windowMs,
      close_code: code,
      left_open: leftOpen,
      duration_ms: Math.round(durationMs),
      outcome,
    });
    return { kind: run.kind, closed, leftOpen, durationMs, outcome };
  }
}
