/**
 * The OpenMetrics text exposition, served at /metrics when the scraper asks for it (Prometheus
 * does, in its Accept header). It carries what the Prometheus text format cannot: exemplars, the
 * trace id of one observation per histogram bucket.
 *
 * Written here rather than by switching prom-client's registry to OpenMetrics: prom-client
 * renames counters in place when it renders OpenMetrics (it strips `_total` from the metric's
 * name), which would change the names in every later Prometheus-text scrape.
 */
import type client from 'prom-client';

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when an Accept header prefers OpenMetrics (present with q > 0, and not below text/plain). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om >= text;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function labelSet(labels: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v === undefined) continue;
    parts.push(`${k}="${escapeLabel(typeof v === 'number' ? number(v) : v)}"`);
  }
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number } | null;
}

/** The registry's metrics in the OpenMetrics 1.0 text format, ending with `# EOF`. */
export async function openMetricsText(registry: client.Registry): Promise<string> {
  const out: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    const data = (await (metric as unknown as { get(): Promise<unknown> }).get()) as {
      name: string;
      help: string;
      type: string;
      values: Sample[];
    };
    const counter = data.type === 'counter';
    // A counter's family is named without _total; its samples carry it.
    const family = counter ? data.name.replace(/_total$/, '') : data.name;
    out.push(`# TYPE ${family} ${data.type}`, `# HELP ${family} ${escapeHelp(data.help)}`);
    for (const s of data.values) {
      const name = counter ? `${family}_total` : (s.metricName ?? data.name);
      let line = `${name}${labelSet(s.labels)} ${number(s.value)}`;
      const ex = s.exemplar;
      if (ex && Object.keys(ex.labelSet ?? {}).length > 0)
        line += ` # ${labelSet(ex.labelSet)} ${number(ex.value)} ${ex.timestamp}`;
      out.push(line);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
