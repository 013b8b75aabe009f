/**
 * The workloads. Each runs the generator threads against one target and returns its numbers
 * together with the CPU use of the generator, the target's process group and the backend
 * during the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EchoResult, Endpoint, HandshakeResult, LatencyResult } from './load/worker.js';
import { type LoadPool, split } from './load/pool.js';
import {
  cpuPercent,
  type GroupSample,
  machineBusySeconds,
  sampleGroup,
  selfCpuSeconds,
} from './lib/procs.js';
import { METRICS } from '../proxy/metrics/definitions.js';
import { sumSamples } from '../proxy/metrics/exposition.js';
import { percentile, sortNumbers } from './lib/stats.js';
import type { Running } from './lib/targets.js';

export const WORKLOADS = ['echo', 'latency', 'large', 'handshake', 'idle', 'scanner'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Settings {
  quick: boolean;
  echo: { conns: number; window: number; payload: number; warmupMs: number; durationMs: number };
  latency: { conns: number; rate: number; payload: number; warmupMs: number; durationMs: number };
  large: { conns: number; window: number; payload: number; warmupMs: number; durationMs: number };
  handshake: { concurrency: number; durationMs: number };
  idle: { counts: number[]; settleMs: number };
  scanner: { timeMs: number };
  sourceAddresses: string[];
}

export function settings(quick: boolean): Settings {
  const sourceAddresses = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
  if (quick) {
    return {
      quick,
      echo: { conns: 40, window: 8, payload: 64, warmupMs: 150, durationMs: 800 },
      latency: { conns: 10, rate: 500, payload: 64, warmupMs: 150, durationMs: 800 },
      large: { conns: 2, window: 1, payload: 1 << 20, warmupMs: 150, durationMs: 800 },
      handshake: { concurrency: 8, durationMs: 800 },
      idle: { counts: [200], settleMs: 400 },
      scanner: { timeMs: 150 },
      sourceAddresses,
    };
  }
  return {
    quick,
    echo: { conns: 200, window: 16, payload: 64, warmupMs: 500, durationMs: 4000 },
    latency: { conns: 50, rate: 2000, payload: 64, warmupMs: 500, durationMs: 4000 },
    large: { conns: 4, window: 2, payload: 1 << 20, warmupMs: 500, durationMs: 3000 },
    handshake: { concurrency: 32, durationMs: 3000 },
    idle: { counts: [1000, 9000], settleMs: 1500 },
    scanner: { timeMs: 1000 },
    sourceAddresses,
  };
}

export interface CpuUse {
  /** Percent of one core, over the whole run of the workload (setup and warm-up included). */
  generator: number;
  proxy: number;
  backend: number;
  /** Everything else on the machine (other users' processes, the kernel's softirq work on behalf of nobody in particular). */
  other: number;
}

export interface WorkloadResult {
  metrics: Record<string, number>;
  cpu?: CpuUse;
  notes?: string[];
}

interface Ctx {
  pool: LoadPool;
  target: Running;
  backend: Running;
  s: Settings;
}

function endpoint(ctx: Ctx): Endpoint {
  return { host: ctx.target.host, port: ctx.target.port, path: '/ws', localAddresses: ctx.s.sourceAddresses };
}

/** Runs `fn` and measures the CPU of the generator, the target and the backend meanwhile. */
async function measured<T>(ctx: Ctx, fn: () => Promise<T>): Promise<{ value: T; cpu: CpuUse }> {
  const proxyPids = ctx.target.pids();
  const backendPids = ctx.backend.pids();
  const g0 = selfCpuSeconds();
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  const p0 = sampleGroup(proxyPids);
  const b0 = sampleGroup(backendPids);
  const value = await fn();
  const p1 = sampleGroup(proxyPids);
  const b1 = sampleGroup(backendPids);
  const g1 = selfCpuSeconds();
  const m1 = machineBusySeconds();
  const wall = (performance.now() - t0) / 1000;
  const generator = ((g1 - g0) / wall) * 100;
  const proxy = proxyPids.length > 0 ? cpuPercent(p0, p1) : Number.NaN;
  const backend = cpuPercent(b0, b1);
  const other = ((m1 - m0) / wall) * 100 - generator - backend - (Number.isFinite(proxy) ? proxy : 0);
  return { value, cpu: { generator, proxy, backend, other: Math.max(0, other) } };
}

function checkConnected(name: string, rs: { connected: number; errors: number }[], want: number): string[] {
  const connected = rs.reduce((a, r) => a + r.connected, 0);
  const errors = rs.reduce((a, r) => a + r.errors, 0);
  if (connected === 0) throw new Error(`${name}: no connection could be opened`);
  return connected < want || errors > 0
    ? [`${name}: ${connected}/${want} connected, ${errors} socket errors`]
    : [];
}

export async function runEcho(ctx: Ctx, cfg = ctx.s.echo, name = 'echo'): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const { value, cpu } = await measured(ctx, () =>
    ctx.pool.all<EchoResult>('echo', (i) => ({ ...endpoint(ctx), ...cfg, conns: split(cfg.conns, n, i) })),
  );
  const perSec = value.reduce((a, r) => a + (r.messages / r.elapsedMs) * 1000, 0);
  const notes = checkConnected(name, value, cfg.conns);
  if (name === 'large')
    return { metrics: { mbPerSec: (perSec * cfg.payload) / 1e6, msgsPerSec: perSec }, cpu, notes };
  return { metrics: { msgsPerSec: perSec }, cpu, notes };
}

export function runLarge(ctx: Ctx): Promise<WorkloadResult> {
  return runEcho(ctx, ctx.s.large, 'large');
}

export async function runLatency(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.latency;
  const { value, cpu } = await measured(ctx, () =>
    ctx.pool.all<LatencyResult>('latency', (i) => ({
      ...endpoint(ctx),
      ...cfg,
      conns: split(cfg.conns, n, i),
      rate: cfg.rate / n,
    })),
  );
  const all = sortNumbers(value.flatMap((r) => r.samplesUs));
  const notes = checkConnected('latency', value, cfg.conns);
  return {
    metrics: {
      p50Us: percentile(all, 50),
      p99Us: percentile(all, 99),
      p999Us: percentile(all, 99.9),
      samples: all.length,
    },
    cpu,
    notes,
  };
}

export async function runHandshake(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.handshake;
  const { value, cpu } = await measured(ctx, () =>
    ctx.pool.all<HandshakeResult>('handshakes', (i) => ({
      ...endpoint(ctx),
      concurrency: split(cfg.concurrency, n, i),
      durationMs: cfg.durationMs,
    })),
  );
  const all = sortNumbers(value.flatMap((r) => r.samplesUs));
  const perSec = value.reduce((a, r) => a + (r.completed / r.elapsedMs) * 1000, 0);
  const failed = value.reduce((a, r) => a + r.failed, 0);
  return {
    metrics: { perSec, p50Us: percentile(all, 50), p99Us: percentile(all, 99), failed },
    cpu,
    notes: failed > 0 ? [`handshake: ${failed} failed attempts`] : [],
  };
}

/**
 * Idle memory: RSS of the target's process group per idle proxied WebSocket, with N open
 * ((RSS_with − RSS_baseline) / N) and again after all N closed (a leak shows as a residue).
 * `maxConns` skips counts a target's own configuration cannot hold.
 */
export async function runIdle(ctx: Ctx, maxConns: number): Promise<WorkloadResult> {
  const pids = ctx.target.pids();
  const n = ctx.pool.size;
  const cfg = ctx.s.idle;
  const metrics: Record<string, number> = {};
  const notes: string[] = [];
  const rss = async (): Promise<GroupSample> => {
    await sleep(cfg.settleMs);
    return sampleGroup(pids);
  };
  const base = await rss();
  metrics.baselineMiB = base.rssBytes / 2 ** 20;
  for (const count of cfg.counts) {
    if (count > maxConns) {
      notes.push(
        `idle ${count}: skipped, the target's configuration holds at most ${maxConns} proxied connections`,
      );
      continue;
    }
    const opened = await ctx.pool.all<{ opened: number; errors: number }>('idleOpen', (i) => ({
      ...endpoint(ctx),
      count: split(count, n, i),
      concurrency: 50,
    }));
    const got = opened.reduce((a, r) => a + r.opened, 0);
    if (got < count) notes.push(`idle ${count}: only ${got} opened`);
    const withConns = await rss();
    await ctx.pool.all('idleClose', () => ({}));
    const after = await rss();
    const active = await activeGauge(ctx.target.adminUrl);
    if (active !== undefined) {
      metrics[`activeAfterClose_${count >= 1000 ? `${count / 1000}k` : count}`] = active;
      if (active > 0)
        notes.push(`idle ${count}: the sidecar still reports ${active} active WebSockets after all closed`);
    }
    const key = count >= 1000 ? `${count / 1000}k` : String(count);
    metrics[`perConnKiB_${key}`] = (withConns.rssBytes - base.rssBytes) / Math.max(1, got) / 1024;
    metrics[`afterCloseKiB_${key}`] = (after.rssBytes - base.rssBytes) / Math.max(1, got) / 1024;
  }
  return { metrics, notes };
}

/** Sum of the sidecar's ws_connections_active gauge, if it has an admin server. */
async function activeGauge(adminUrl: string | undefined): Promise<number | undefined> {
  if (adminUrl === undefined) return undefined;
  try {
    const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    return sumSamples(text, METRICS.connectionsActive.name) ?? 0;
  } catch {
    return undefined;
  }
}
