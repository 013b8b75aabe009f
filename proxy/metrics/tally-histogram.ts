/**
 * A histogram for the relay's hot path: `observe()` bumps one slot of a preallocated array and
 * allocates nothing; prom-client reads the figures at scrape time through `get()`, the same
 * interface its own metrics have. One instance serves one labelled metric; each label set is a
 * `HistogramSeries` created up front.
 */
import type client from 'prom-client';
import type { MetricDefinition } from './definitions.js';

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface SeriesValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class TallyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: HistogramSeries[] = [];

  constructor(private readonly def: MetricDefinition) {
    this.name = def.name;
    this.help = def.help;
  }

  series(labels: Record<string, string>): HistogramSeries {
    const s = new HistogramSeries(this.def.buckets ?? [], labels);
    this.all.push(s);
    return s;
  }

  /** The metric as prom-client's registry reads it. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: SeriesValue[];
  }> {
    const values: SeriesValue[] = [];
    for (const s of this.all) {
      let cumulative = 0;
      for (let i = 0; i < s.counts.length; i++) {
        cumulative += s.counts[i];
        const le = i < s.bounds.length ? s.bounds[i] : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: client.Registry): this {
    registry.registerMetric(this as unknown as client.Metric);
    return this;
  }
}
