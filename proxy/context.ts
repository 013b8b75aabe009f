/** What the parts of a running sidecar share: configuration, clock, metrics, the live table and the log. */
import { type Cancel, type Clock, systemClock } from './clock.js';
import type { SidecarConfig } from './config/sidecar-options.js';
import { BufferBudget } from './connections/buffer-budget.js';
import { SocketRegistry } from './connections/sockets.js';
import type { DrainClock } from './connections/drain.js';
import { DrainControl, type DrainLogger } from './connections/drain-control.js';
import { ConnectionTable } from './connections/table.js';
import type { FaultRegistry } from './faults/registry.js';
import type { ExhaustionPlace } from './metrics/definitions.js';
import { SidecarMetrics } from './metrics/registry.js';
import type { UpgradeChecks } from './policy/types.js';
import { ProtocolRuntime } from './protocols/runtime.js';
import { exhaustionReporter } from './resources.js';
import { type CloseLogger, jsonLineLogger, silentLogger } from './telemetry/close-log.js';
import { redactionSet } from './telemetry/redact.js';

export interface SidecarContext {
  readonly config: SidecarConfig;
  readonly clock: Clock;
  readonly metrics: SidecarMetrics;
  readonly table: ConnectionTable;
  readonly budget: BufferBudget;
  /** Every socket held, in any state (see SocketRegistry). */
  readonly sockets: SocketRegistry;
  readonly log: CloseLogger;
  readonly redact: ReadonlySet<string>;
  /** The drain and rebalancing (refusals while draining, staggered closes). */
  readonly drain: DrainControl;
  /** Origin, auth and rate checks before the 101; null when none is configured. */
  checks: UpgradeChecks | null;
  /** The fault API's active faults (--faults); null when it is off. */
  faults: FaultRegistry | null;
  /** Set once shutdown began: a connection that opens now is closed at once. */
  stopping: boolean;
  /** Reports the sidecar's own resource exhaustion on stderr (rate-limited). */
  readonly reportExhaustion: (code: string, where: ExhaustionPlace) => void;
  /** Short unique connection ids: a per-process prefix and a counter. */
  nextId(): string;
  /** The protocol decoders (engine.io, graphql-ws, MQTT, SSE) and their shared state. */
  readonly protocols: ProtocolRuntime;
}

export function createContext(
  config: SidecarConfig,
  opts: {
    metrics?: SidecarMetrics;
    log?: CloseLogger;
    clock?: Clock;
    drainLog?: DrainLogger;
    /** Overrides the clock and random source of the drain alone (tests). */
    drainClock?: DrainClock;
    drainRandom?: () => number;
  } = {},
): SidecarContext {
  const clock = opts.clock ?? systemClock;
  const metrics = opts.metrics ?? new SidecarMetrics();
  const table = new ConnectionTable(clock);
  metrics.attach(table);
  const prefix = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  let seq = 0;
  const drainLog: DrainLogger =
    opts.drainLog ??
    (config.log === 'off' ? () => {} : (r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  const ctx: Omit<SidecarContext, 'protocols'> & { protocols?: ProtocolRuntime } = {
    config,
    clock,
    metrics,
    table,
    budget: new BufferBudget(config.maxTotalBufferBytes, clock),
    sockets: new SocketRegistry(),
    log: opts.log ?? (config.log === 'off' ? silentLogger : jsonLineLogger()),
    redact: redactionSet(config.redactParams, config.jwtTokenFrom),
    drain: new DrainControl({
      config,
      table,
      metrics,
      log: drainLog,
      clock: opts.drainClock ?? {
        now: () => clock.now(),
        setTimer: (fn, ms) => clock.after(ms, fn),
        clearTimer: (cancel) => (cancel as Cancel)(),
      },
      random: opts.drainRandom ?? (() => clock.random()),
    }),
    checks: null,
    faults: null,
    stopping: false,
    reportExhaustion: exhaustionReporter(clock, metrics),
    nextId: () => `${prefix}-${(++seq).toString(36)}`,
  };
  ctx.protocols = new ProtocolRuntime(ctx as SidecarContext);
  return ctx as SidecarContext;
}
