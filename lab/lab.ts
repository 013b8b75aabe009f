/**
 * The chaos lab: runs drills against a LabEnvironment, prints a scorecard, writes the report.
 *
 *   const { report } = await runLab({ drills: ['half-open'], runs: 3, reportDir: 'lab-report' });
 *
 * Every drill runs in its own scope: whatever it started is stopped before the next one, even if
 * it threw (a throw counts as a failed run, with the error as the detail).
 */
import { NativeEnvironment } from './env/native.js';
import { type AlertWatch, watchAlerts } from './env/prometheus-watch.js';
import type { EnvKind, LabEnvironment } from './env/types.js';
import { DRILLS } from './drills/index.js';
import { DEFAULT_DRILL_TIMEOUT_MS, type Drill, type DrillResult } from './drills/types.js';
import { targetDrills } from './target/index.js';
import type { TargetSpec } from './target/types.js';
import { buildReport, type DrillRun, type LabReport, scorecard, writeReport } from './report/render.js';

export interface LabOptions {
  /** Drill names to run (default: all). */
  drills?: string[];
  runs?: number;
  /** Where report.json and report.html go; null writes nothing. Default lab-report. */
  reportDir?: string | null;
  env?: EnvKind | LabEnvironment;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
  /** Hard limit per drill run, for every drill (default: each drill's own timeoutMs). */
  drillTimeoutMs?: number;
  /**
   * Native only: run a real Prometheus scraping every sidecar with the project's alert rules,
   * and report which alerts went pending or firing during which drill.
   */
  prometheus?: boolean;
  /** Run the drills that apply to a service the lab did not write, against this one. */
  target?: TargetSpec;
}

export interface LabOutcome {
  report: LabReport;
  scorecard: string;
  files: { json: string; html: string } | null;
}

export function selectDrills(names?: string[], pool: readonly Drill[] = DRILLS): Drill[] {
  if (!names || names.length === 0) return [...pool];
  return names.map((n) => {
    const d = pool.find((x) => x.name === n);
    if (!d) throw new Error(`unknown drill "${n}" (drills: ${pool.map((x) => x.name).join(', ')})`);
    return d;
  });
}

function failed(err: unknown): DrillResult {
  const detail = `error: ${err instanceof Error ? err.message : String(err)}`;
  return {
    symptom: { ok: false, detail },
    detected: { ok: false, detail },
    mitigated: { ok: false, detail },
    figure: 'error',
    series: [],
  };
}

export async function runLab(opts: LabOptions = {}): Promise<LabOutcome> {
  const drills = selectDrills(opts.drills, opts.target ? targetDrills(opts.target) : DRILLS);
  const runs = Math.max(1, opts.runs ?? 1);
  const progress = opts.progress ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ownEnv = typeof opts.env !== 'object';
  const env: LabEnvironment =
    typeof opts.env === 'object'
      ? opts.env
      : opts.env === 'compose'
        ? // Loaded only when asked for: it drives the `docker compose` CLI.
          new (await import('./env/compose.js')).ComposeEnvironment({
            log: (l) => progress(`[lab] compose: ${l}`),
          })
        : new NativeEnvironment({ prometheus: opts.prometheus === true });
  const startedAt = new Date();
  const results: DrillRun[] = [];
  let watch: AlertWatch | null = null;
  try {
    if (opts.prometheus && env instanceof NativeEnvironment) {
      const prom = await env.prometheus();
      progress(`[lab] prometheus at ${prom.url}, scraping every sidecar with the alert rules`);
      watch = watchAlerts(prom);
    }
    for (const drill of drills) {
      watch?.phase(drill.name);
      const entry: DrillRun = { name: drill.name, title: drill.title, runs: [], durationsMs: [] };
      results.push(entry);
      const timeoutMs = opts.drillTimeoutMs ?? drill.timeoutMs ?? DEFAULT_DRILL_TIMEOUT_MS;
      for (let i = 1; i <= runs; i++) {
        const t0 = performance.now();
        progress(`[lab] ${drill.name}${runs > 1 ? ` run ${i}/${runs}` : ''} ...`);
        let result: DrillResult;
        let timer: NodeJS.Timeout | undefined;
        try {
          result = await Promise.race([
            drill.run(env, { log: (l) => progress(`[lab]   ${drill.name}: ${l}`) }),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
        } catch (err) {
          result = failed(err);
        } finally {
          clearTimeout(timer);
          await env.releaseAll();
        }
        const ms = performance.now() - t0;
        entry.runs.push(result);
        entry.durationsMs.push(Math.round(ms));
        const marks = result.skipped
          ? '-'
          : [result.symptom, result.detected, result.mitigated].map((c) => (c.ok ? '✓' : '✗')).join('');
        progress(`[lab] ${drill.name}: ${marks} ${result.figure} (${(ms / 1000).toFixed(1)} s)`);
      }
    }
    await watch?.stop();
  } finally {
    if (ownEnv) await env.close();
  }
  const report = buildReport(results, env.kind, runs, startedAt);
  if (opts.target) report.target = `${opts.target.url.origin}${opts.target.wsPath}`;
  if (watch) {
    report.alerts = Object.fromEntries([...watch.seen()].map(([name, s]) => [name, [...s.phases].sort()]));
    for (const [name, phases] of Object.entries(report.alerts))
      progress(`[lab] alert ${name}: ${phases.join(', ')}`);
  }
  const reportDir = opts.reportDir === undefined ? 'lab-report' : opts.reportDir;
  const files = reportDir === null ? null : writeReport(report, reportDir);
  return { report, scorecard: scorecard(report), files };
}
