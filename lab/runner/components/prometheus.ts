/**
 * Prometheus for the lab (Debian's build), rendered from
 * lab/configs/prometheus/prometheus.yml.template: 1 s scrape and evaluation intervals, the
 * sidecar(s) as targets, and the alert rules of dashboards/alerts/. Its TSDB lives in the
 * instance work dir, its API on 127.0.0.1:<port>.
 *
 *   const prom = await startPrometheus({ targets: ['127.0.0.1:9464'] });
 *   await prom.query('socketlens_connections_active');
 *   await prom.alerts();
 *   await prom.stop();
 *
 * Targets that come and go (the native lab's per-drill sidecars) go in a file_sd JSON file
 * (`fileSd`): a second job, socketlens-file-sd, re-reads it on change (inotify, and every second).
 * The static job stays as the template has it, so compose renders the same template unchanged.
 */
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { runCommand } from '../command.js';
import { LabError } from '../errors.js';
import { configPath, repoRoot } from '../paths.js';
import { freePort, retryOnPortClash } from '../ports.js';
import { startProcess } from '../process.js';
import { renderTemplateFile } from '../template.js';
import { prepareWorkDir, type WorkDirOptions } from '../workdir.js';

export interface PrometheusOptions extends WorkDirOptions {
  /** host:port scrape targets serving /metrics. */
  targets: readonly string[];
  /**
   * Directory whose *.yml are loaded as rule files. Default: symlinks (in the work dir) to every
   * *.yml of dashboards/alerts except the promtool unit tests (*.test.yml), as compose does.
   */
  rulesDir?: string;
  /** A file_sd JSON file (`[{"targets": [...], "labels": {...}}]`) scraped as job socketlens-file-sd. */
  fileSd?: string;
  /** More static jobs, each with its own job label (e.g. two services' sidecars). */
  jobs?: readonly ScrapeJob[];
  /** Feature flags, e.g. ['exemplar-storage'] (--enable-feature). */
  features?: readonly string[];
  port?: number;
  host?: string;
}

export interface ScrapeJob {
  readonly name: string;
  /** host:port scrape targets serving /metrics. */
  readonly targets: readonly string[];
}

/** One exemplar series from /api/v1/query_exemplars. */
export interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

/** One sample of an instant vector: labels, and [unix seconds, value as a string]. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range result: labels, and [unix seconds, value as a string] points. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface ScrapeTarget {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  /** RFC 3339 time of the last scrape (the zero time before the first). */
  lastScrape: string;
  lastError: string;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value: string;
}

export interface PrometheusServer {
  readonly port: number;
  readonly url: string;
  readonly configPath: string;
  readonly workDir: string;
  readonly logPath: string;
  /** Instant query; returns the samples of a vector result (a scalar comes back as one sample). */
  query(expr: string): Promise<VectorSample[]>;
  /** Range query over [start, end] (unix seconds); returns the series of the matrix result. */
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<MatrixSeries[]>;
  /** Exemplars of the series `expr` selects over [start, end] (unix seconds); needs features: ['exemplar-storage']. */
  exemplars(expr: string, start: number, end: number): Promise<ExemplarSeries[]>;
  /** Active (pending or firing) alerts, from GET /api/v1/alerts. */
  alerts(): Promise<PrometheusAlert[]>;
  /** Active scrape targets, from GET /api/v1/targets?state=active. */
  targets(): Promise<ScrapeTarget[]>;
  /** Re-reads the config and rule files (POST /-/reload). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** Renders the config; exported so tests and compose tooling can check the same text. */
export function renderPrometheusConfig(
  targets: readonly string[],
  rulesDir: string,
  fileSd?: string,
  jobs: readonly ScrapeJob[] = [],
): string {
  let text = renderTemplateFile(configPath('prometheus', 'prometheus.yml.template'), {
    // JSON is a YAML flow sequence, quoting included.
    SIDECAR_TARGETS: JSON.stringify(targets),
    RULES_DIR: rulesDir,
  });
  // scrape_configs is the template's last section, so a job appended at the end joins it.
  for (const job of jobs)
    text = `${text.trimEnd()}
  - job_name: ${JSON.stringify(job.name)}
    metrics_path: /metrics
    static_configs:
      - targets: ${JSON.stringify(job.targets)}
`;
  if (fileSd === undefined) return text;
  return `${text.trimEnd()}
  - job_name: socketlens-file-sd
    metrics_path: /metrics
    file_sd_configs:
      - files: [${JSON.stringify(fileSd)}]
        refresh_interval: 1s
`;
}

/**
 * A rules directory for Prometheus: symlinks to every *.yml of `source` except the promtool unit
 * tests (*.test.yml), which are not rule files (the same selection as compose's render-and-run.sh).
 */
export function prepareRulesDir(source: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(source)) {
    if (!name.endsWith('.yml') || name.endsWith('.test.yml')) continue;
    symlinkSync(join(source, name), join(dir, name));
  }
  return dir;
}

/** Runs `promtool check config` on a rendered file; throws SL_LAB_COMMAND_FAILED with its report. */
export async function checkPrometheusConfig(path: string): Promise<string> {
  const { stdout, stderr } = await runCommand(findBinary('promtool'), ['check', 'config', path]);
  return `${stdout}${stderr}`;
}

interface ApiEnvelope<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = (await res.json().catch(() => undefined)) as ApiEnvelope<T> | undefined;
  if (!res.ok || body?.status !== 'success') {
    const why = body?.error ? `${body.errorType}: ${body.error}` : `HTTP ${res.status}`;
    throw new LabError('SL_LAB_HTTP', `prometheus ${url}: ${why}`);
  }
  return body.data;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const prometheus = findBinary('prometheus');
  const work = prepareWorkDir('prometheus', opts);
  const host = opts.host ?? '127.0.0.1';
  const cfg = join(work.path, 'prometheus.yml');
  const rulesDir =
    opts.rulesDir ?? prepareRulesDir(join(repoRoot(), 'dashboards', 'alerts'), join(work.path, 'rules'));
  writeFileSync(cfg, renderPrometheusConfig(opts.targets, rulesDir, opts.fileSd, opts.jobs));
  let port = 0;

  const proc = await retryOnPortClash(async () => {
    port = opts.port ?? (await freePort(host));
    const url = `http://${host}:${port}`;
    return startProcess({
      name: 'prometheus',
      command: prometheus,
      args: [
        `--config.file=${cfg}`,
        `--storage.tsdb.path=${join(work.path, 'data')}`,
        `--web.listen-address=${host}:${port}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=1d',
        ...(opts.features ?? []).map((f) => `--enable-feature=${f}`),
      ],
      workDir: work.path,
      // /-/ready turns 200 only after the TSDB is open and the config is loaded.
      ready: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok,
      readyTimeoutMs: 20_000,
    });
  });

  const url = `http://${host}:${port}`;
  return {
    port,
    url,
    configPath: cfg,
    workDir: work.path,
    logPath: proc.logPath,
    async query(expr) {
      const data = await api<{ resultType: string; result: unknown }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType === 'vector') return data.result as VectorSample[];
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      throw new LabError(
        'SL_LAB_HTTP',
        `prometheus query ${expr}: unsupported result type ${data.resultType}`,
      );
    },
    async queryRange(expr, start, end, stepSeconds) {
      const q = new URLSearchParams({
        query: expr,
        start: String(start),
        end: String(end),
        step: String(stepSeconds),
      });
      const data = await api<{ resultType: string; result: unknown }>(`${url}/api/v1/query_range?${q}`);
      if (data.resultType === 'matrix') return data.result as MatrixSeries[];
      throw new LabError(
        'SL_LAB_HTTP',
        `prometheus query_range ${expr}: unsupported result type ${data.resultType}`,
      );
    },
    async exemplars(expr, start, end) {
      const q = new URLSearchParams({ query: expr, start: String(start), end: String(end) });
      return (await api<ExemplarSeries[] | null>(`${url}/api/v1/query_exemplars?${q}`)) ?? [];
    },
    async alerts() {
      return (await api<{ alerts: PrometheusAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
    async targets() {
      return (await api<{ activeTargets: ScrapeTarget[] }>(`${url}/api/v1/targets?state=active`))
        .activeTargets;
    },
    async reload() {
      const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      if (!res.ok)
        throw new LabError('SL_LAB_HTTP', `prometheus reload: HTTP ${res.status}: ${await res.text()}`);
    },
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}
