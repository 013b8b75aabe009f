/** What a drill is and what it hands back: three separately reported checks, a figure, series. */
import type { LabEnvironment } from '../env/types.js';

export interface Check {
  ok: boolean;
  detail: string;
}

/** A chart: named lines of [x, y] points. */
export interface Series {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  lines: Array<{ name: string; points: Array<[number, number]> }>;
  /** Horizontal reference lines, e.g. the idle timeout or a buffer limit. */
  marks?: Array<{ name: string; y: number }>;
  kind?: 'line' | 'points' | 'bars';
}

export interface DrillResult {
  /** The failure reproduced (without the fix). */
  symptom: Check;
  /** socketlens saw it: the metric or log line that reveals it. */
  detected: Check;
  /** The mitigation removed it. */
  mitigated: Check;
  /** The key number, as text. */
  figure: string;
  series: Series[];
  /** Raw measurements, for report.json. */
  data?: Record<string, unknown>;
  /**
   * Drills against a service the lab did not write (`lab --target`): what that service did, and
   * where it failed, what to change (the fix named).
   */
  service?: { did: string; change: string | null };
  /** Set when the drill could not apply to this service: why (its checks then count as passed). */
  skipped?: string;
}

export interface DrillOptions {
  log(line: string): void;
}

/** Limit of one drill run when the drill names none (`socketlens lab --drill-timeout` overrides). */
export const DEFAULT_DRILL_TIMEOUT_MS = 60_000;

export interface Drill {
  name: string;
  title: string;
  /**
   * Hard limit of one run, in ms, on any environment (default DEFAULT_DRILL_TIMEOUT_MS). Sized
   * for the slower one: under compose every component is a container the drill (re)creates.
   */
  timeoutMs?: number;
  run(env: LabEnvironment, opts: DrillOptions): Promise<DrillResult>;
}

/** The result of a drill that does not apply to this environment or service, with the reason. */
export function skippedResult(reason: string): DrillResult {
  const c = check(true, `skipped: ${reason}`);
  return { symptom: c, detected: c, mitigated: c, figure: 'skipped', series: [], skipped: reason };
}

export function check(ok: boolean, detail: string): Check {
  return { ok, detail };
}

export function passed(r: DrillResult): boolean {
  return r.symptom.ok && r.detected.ok && r.mitigated.ok;
}
