/**
 * Small PromQL builders for the dashboards.
 *
 * Every query starts from a metric definition of the contract, so a renamed metric breaks the
 * build or the tests instead of leaving a silently empty panel. The Grafana macros stay symbolic
 * here; queries.ts replaces them with concrete windows when the queries are run outside Grafana.
 */
import type { MetricDefinition } from '../../proxy/metrics/definitions.js';
import { FLEET_MATCHERS } from './datasource.js';

/** Grafana's rate window: at least four scrape intervals, so rate() always has two samples. */
export const RATE_WINDOW = '$__rate_interval';
/** Grafana's step: one heatmap cell per step, so increase() over it does not double count. */
export const STEP_WINDOW = '$__interval';

type Matchers = Readonly<Record<string, string>>;

/**
 * A label selector such as `{job=~"$job", instance=~"$instance", reason="upgrade_stripped"}`:
 * the fleet variables first (regex matches, so "All" and multi-select work), then `matchers`.
 */
export function selector(matchers: Matchers = {}): string {
  const fleet = Object.entries(FLEET_MATCHERS).map(([k, v]) => `${k}=~${JSON.stringify(v)}`);
  const parts = Object.entries(matchers).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${[...fleet, ...parts].join(', ')}}`;
}

/** The series of a metric; histograms need the part (bucket, sum or count). */
export function series(
  def: MetricDefinition,
  matchers: Matchers = {},
  part?: 'bucket' | 'sum' | 'count',
): string {
  if (def.type === 'histogram' && part === undefined) {
    throw new Error(`${def.name} is a histogram: name the series part`);
  }
  const name = part === undefined ? def.name : `${def.name}_${part}`;
  return `${name}${selector(matchers)}`;
}

function by(labels: readonly string[]): string {
  return labels.length === 0 ? '' : ` by (${labels.join(', ')})`;
}

/** Per-second rate of a counter, summed (optionally by labels) across the selected sidecars. */
export function sumRate(
  def: MetricDefinition,
  opts: { by?: readonly string[]; where?: Matchers } = {},
): string {
  if (def.type !== 'counter') throw new Error(`${def.name} is a ${def.type}, not a counter`);
  return `sum${by(opts.by ?? [])} (rate(${series(def, opts.where)}[${RATE_WINDOW}]))`;
}

/** A gauge aggregated across the selected sidecars. */
export function gauge(
  def: MetricDefinition,
  opts: { agg?: 'sum' | 'max'; by?: readonly string[]; where?: Matchers } = {},
): string {
  if (def.type !== 'gauge') throw new Error(`${def.name} is a ${def.type}, not a gauge`);
  return `${opts.agg ?? 'sum'}${by(opts.by ?? [])} (${series(def, opts.where)})`;
}

/** A quantile of a histogram over the rate window, merged across sidecars by bucket. */
export function quantile(def: MetricDefinition, q: number): string {
  if (def.type !== 'histogram') throw new Error(`${def.name} is a ${def.type}, not a histogram`);
  return `histogram_quantile(${q}, sum by (le) (rate(${series(def, {}, 'bucket')}[${RATE_WINDOW}])))`;
}

/** Observations per bucket and step, the input of a Grafana heatmap (format=heatmap). */
export function bucketIncrease(def: MetricDefinition): string {
  if (def.type !== 'histogram') throw new Error(`${def.name} is a ${def.type}, not a histogram`);
  return `sum by (le) (increase(${series(def, {}, 'bucket')}[${STEP_WINDOW}]))`;
}

/**
 * An aggregate that reads 0 instead of nothing. Labelled counters (failure reasons, close codes)
 * only appear after their first event, and `a + b` is empty when either side is, so sums and
 * ratios over them need this to show a line on a healthy system.
 */
export function orZero(expr: string): string {
  return `(${expr} or vector(0))`;
}
