/**
 * Reading figures back out of the Prometheus text format served at /metrics, for tools that
 * watch a sidecar from outside its process (the compose lab, the benchmark, tests).
 */

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The sum of the samples of `name` whose labels include `labels`, or null when the text has no
 * such metric. A histogram's own name stands for its observation count (`name_count`); its
 * `_bucket`, `_sum` and `_count` series can also be named directly.
 */
export function sumSamples(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const series = text.includes(`# TYPE ${name} histogram`) ? `${name}_count` : name;
  let found = false;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || !line.startsWith(series)) continue;
    const m = SAMPLE.exec(line);
    if (!m || m[1] !== series) continue;
    found = true;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) have[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return found || text.includes(`# TYPE ${name} `) ? sum : null;
}
