/** What the parts of a running sidecar share: configuration, metrics, the live table and the log. */
import type { SidecarConfig } from './config/sidecar-options.js';
import { BufferBudget } from './connections/buffer-budget.js';
import { ConnectionTable } from './connections/table.js';
import type { FaultRegistry } from './faults/registry.js';
import { SidecarMetrics } from './metrics/registry.js';
import { type CloseLogger, jsonLineLogger, silentLogger } from './telemetry/close-log.js';
import type { UpgradeChecks } from './policy/types.js';
import { ProtocolRuntime } from './protocols/runtime.js';
import { redactionSet } from './telemetry/redact.js';

export interface SidecarContext {
  readonly config: SidecarConfig;
  readonly metrics: SidecarMetrics;
  readonly table: ConnectionTable;
  readonly budget: BufferBudget;
  readonly log: CloseLogger;
  readonly redact: ReadonlySet<string>;
  /** Origin, auth and rate checks before the 101; null when none is configured. */
  checks: UpgradeChecks | null;
  /** The fault API's active faults (--faults); null when it is off. */
  faults: FaultRegistry | null;
  /** Short unique connection ids: a per-process prefix and a counter. */
  nextId(): string;
  /** The protocol decoders (engine.io, graphql-ws, MQTT, SSE) and their shared state. */
  readonly protocols: ProtocolRuntime;
}

export function createContext(
  config: SidecarConfig,
  opts: { metrics?: SidecarMetrics; log?: CloseLogger } = {},
): SidecarContext {
  const metrics = opts.metrics ?? new SidecarMetrics();
  const table = new ConnectionTable();
  metrics.attach(table);
  const prefix = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  let seq = 0;
  const ctx: Omit<SidecarContext, 'protocols'> & { protocols?: ProtocolRuntime } = {
    config,
    metrics,
    table,
    budget: new BufferBudget(config.maxTotalBufferBytes),
    log: opts.log ?? (config.log === 'off' ? silentLogger : jsonLineLogger()),
    redact: redactionSet(config.redactParams),
    checks: null,
    faults: null,
    nextId: () => `${prefix}-${(++seq).toString(36)}`,
  };
  ctx.protocols = new ProtocolRuntime(ctx as SidecarContext);
  return ctx as SidecarContext;
}
