/**
 * Drills against a service the lab did not write (`socketlens lab --target`). They use only what
 * the protocol guarantees: the upgrade, frames, pings and closes, TCP. A drill that needs the
 * service to send data uses `message` (from --message-file) and says so when it has none.
 */
import type { LabEnvironment } from '../env/types.js';
import { type DrillOptions, type DrillResult, skippedResult } from '../drills/types.js';

export interface TargetSpec {
  /** http://host:port of the service. */
  url: URL;
  /** host:port, for the lab's components to forward to. */
  address: string;
  wsPath: string;
  ssePath: string | null;
  pollPath: string | null;
  /** A message that makes the service send something back (--message-file), or null. */
  message: string | Buffer | null;
  /** How long the zombie drills wait for the service to notice (ms). */
  zombieWindowMs: number;
  /** Idle timeout of the HAProxy hop in the idle drill (ms). */
  idleTimeoutMs: number;
}

export interface TargetDrill {
  name: string;
  title: string;
  run(env: LabEnvironment, target: TargetSpec, opts: DrillOptions): Promise<DrillResult>;
}

/** A drill that cannot apply to this service: reported as skipped, with the reason. */
export function skipped(reason: string): DrillResult {
  return skippedResult(reason);
}
