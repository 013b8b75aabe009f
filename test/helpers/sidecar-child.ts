/**
 * The sidecar as a child process (`node bin/socketlens.js proxy ...`) with the admin server on,
 * for tests and scripts that count its file descriptors and memory from /proc, or that need more
 * sockets than one test process should hold. Its close log (stdout) is parsed line by line;
 * /metrics is scraped over a fresh connection each time (Connection: close), so the scrape
 * leaves no socket open in the sidecar.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import type { DrainRecord } from '../../proxy/connections/drain-control.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import { waitUntil } from './raw.js';

export interface SidecarChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** http://host:port of the admin server. */
  readonly adminUrl: string;
  /** Close-log records (kept only with `keepLogs`, the default). */
  readonly logs: CloseRecord[];
  /** The drain's start and end lines. */
  readonly drainLogs: DrainRecord[];
  /** Close-log lines by `reason` (always kept; cheap for long runs). */
  readonly reasons: Map<string, number>;
  /** Number of close-log lines seen so far. */
  logCount(): number;
  /** Everything the child wrote to stderr (first MB). */
  stderr(): string;
  /** Open file descriptors of the child, from /proc/<pid>/fd. */
  fds(): number;
  /** The fd count once it has not changed for `stableMs` (measured after a scrape). */
  baselineFds(stableMs?: number): Promise<number>;
  /** Resident set size of the child in bytes, from /proc/<pid>/status. */
  rssBytes(): number;
  /** Prometheus text from the admin server. */
  scrape(): Promise<string>;
  /** Sum of the samples of `name` whose labels include `labels` (histograms: the _count series). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SidecarChildOptions {
  /** Extra `socketlens proxy` arguments, e.g. ['--handshake-timeout', '300ms']. */
  args?: string[];
  /** Keep every close-log record in memory (default true; turn off for soak runs). */
  keepLogs?: boolean;
  /** Node options for the child, e.g. ['--max-old-space-size=256']. */
  nodeArgs?: string[];
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The socketlens entry point to run (default: this tree's bin/socketlens.js). */
  bin?: string;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // agent:false sends Connection: close, so the admin socket is gone once the answer is read.
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
  });
}

function countFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export async function spawnSidecar(
  targetPort: number,
  opts: SidecarChildOptions = {},
): Promise<SidecarChild> {
  const keepLogs = opts.keepLogs ?? true;
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      opts.bin ?? 'bin/socketlens.js',
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--target',
      `http://127.0.0.1:${targetPort}`,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env },
  );
  let stderr = '';
  let partial = '';
  let count = 0;
  const logs: CloseRecord[] = [];
  const drainLogs: DrainRecord[] = [];
  const reasons = new Map<string, number>();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    if (stderr.length < 1_000_000) stderr += c;
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    const lines = (partial + c).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      const rec = JSON.parse(line) as CloseRecord | DrainRecord;
      if (rec.event !== 'connection_closed') {
        drainLogs.push(rec);
        continue;
      }
      count++;
      reasons.set(rec.reason, (reasons.get(rec.reason) ?? 0) + 1);
      if (keepLogs) logs.push(rec);
    }
  });
  const exited = once(child, 'exit');
  const started = /proxying http:\/\/127\.0\.0\.1:(\d+) -> \S+, admin (http:\/\/127\.0\.0\.1:\d+)/;
  try {
    await waitUntil(() => started.test(stderr) || child.exitCode !== null, 10_000, 'sidecar start');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const m = started.exec(stderr);
  if (!m) throw new Error(`sidecar did not start: ${stderr}`);
  const pid = child.pid!;
  const adminUrl = m[2];
  const scrape = () => get(`${adminUrl}/metrics`);
  return {
    child,
    pid,
    port: Number(m[1]),
    adminUrl,
    logs,
    drainLogs,
    reasons,
    logCount: () => count,
    stderr: () => stderr,
    fds: () => countFds(pid),
    async baselineFds(stableMs = 200) {
      await scrape();
      let last = countFds(pid);
      let since = Date.now();
      const deadline = Date.now() + 5000;
      while (Date.now() - since < stableMs && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        const now = countFds(pid);
        if (now !== last) {
          last = now;
          since = Date.now();
        }
      }
      return last;
    },
    rssBytes: () => {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return kb ? Number(kb[1]) * 1024 : 0;
    },
    scrape,
    metric: async (name, labels = {}) => {
      const v = sumSamples(await scrape(), name, labels);
      if (v === null) throw new Error(`no metric named ${name}`);
      return v;
    },
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code] = (await exited) as [number | null];
      clearTimeout(t);
      return code;
    },
  };
}
