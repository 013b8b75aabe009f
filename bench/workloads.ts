/**
 * The workloads. Each runs the generator threads against one target and returns its numbers
 * together with the CPU use of the generator, the target's process group and the backend
 * during the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BroadcastResult,
  EchoArgs,
  EchoResult,
  Endpoint,
  HandshakeResult,
  HttpResult,
  LatencyResult,
  SseResult,
} from './load/worker.js';
import { type LoadPool, type Phase, split } from './load/pool.js';
import {
  cpuPercent,
  groupPreemptions,
  type GroupSample,
  machineBusySeconds,
  sampleGroup,
  selfCpuSeconds,
} from './lib/procs.js';
import { EVENT_LOOP_SAMPLE_MS, METRICS } from '../proxy/metrics/definitions.js';
import { sumSamples } from '../proxy/metrics/exposition.js';
import { percentile, sortNumbers } from './lib/stats.js';
import type { Running } from './lib/targets.js';

export const WORKLOADS = [
  'echo',
  'socketio',
  'graphql',
  'latency',
  'large',
  'handshake',
  'http',
  'longpoll',
  'sse',
  'broadcast',
  'idle',
  'scanner',
] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Settings {
  quick: boolean;
  echo: { conns: number; window: number; payload: number; warmupMs: number; durationMs: number };
  latency: { conns: number; rate: number; payload: number; warmupMs: number; durationMs: number };
  large: { conns: number; window: number; payload: number; warmupMs: number; durationMs: number };
  handshake: { concurrency: number; durationMs: number };
  http: { conns: number; warmupMs: number; durationMs: number };
  longpoll: { conns: number; warmupMs: number; durationMs: number };
  sse: { clients: number; everyMs: number; warmupMs: number; durationMs: number };
  broadcast: { clients: number; rate: number; payload: number; warmupMs: number; durationMs: number };
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
      http: { conns: 10, warmupMs: 150, durationMs: 800 },
      longpoll: { conns: 20, warmupMs: 150, durationMs: 800 },
      sse: { clients: 100, everyMs: 50, warmupMs: 300, durationMs: 800 },
      broadcast: { clients: 200, rate: 20, payload: 64, warmupMs: 300, durationMs: 800 },
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
    http: { conns: 50, warmupMs: 500, durationMs: 3000 },
    longpoll: { conns: 200, warmupMs: 500, durationMs: 3000 },
    sse: { clients: 1000, everyMs: 50, warmupMs: 1000, durationMs: 3000 },
    broadcast: { clients: 5000, rate: 10, payload: 64, warmupMs: 1000, durationMs: 3000 },
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

interface CpuSnapshot {
  proxy: GroupSample;
  proxyPreempted: number;
  backend: GroupSample;
  generator: number;
  machine: number;
  at: number;
}

/**
 * Runs `fn` and measures the CPU of the generator, the target and the backend meanwhile: over
 * the whole run, and over the measured window the workers mark (from the first worker's 'start'
 * to the last worker's 'end'). `proxySeconds` is the target's CPU time inside that window, which
 * is what CPU per message divides.
 */
async function measured<T>(
  ctx: Ctx,
  fn: (onPhase: (phase: Phase) => void) => Promise<T>,
): Promise<{ value: T; cpu: CpuUse; proxySeconds: number; proxyPreempted: number }> {
  const proxyPids = ctx.target.pids();
  const backendPids = ctx.backend.pids();
  const snap = (): CpuSnapshot => ({
    proxy: sampleGroup(proxyPids),
    proxyPreempted: groupPreemptions(proxyPids),
    backend: sampleGroup(backendPids),
    generator: selfCpuSeconds(),
    machine: machineBusySeconds(),
    at: performance.now(),
  });
  const first = snap();
  let open: CpuSnapshot | null = null;
  let close: CpuSnapshot | null = null;
  let ends = 0;
  const value = await fn((phase) => {
    if (phase === 'start') open ??= snap();
    else if (++ends === ctx.pool.size) close = snap();
  });
  const last = snap();
  const a: CpuSnapshot = open ?? first;
  const b: CpuSnapshot = close ?? last;
  const wall = (b.at - a.at) / 1000;
  const generator = ((b.generator - a.generator) / wall) * 100;
  const proxy = proxyPids.length > 0 ? cpuPercent(a.proxy, b.proxy) : Number.NaN;
  const backend = cpuPercent(a.backend, b.backend);
  const other =
    ((b.machine - a.machine) / wall) * 100 - generator - backend - (Number.isFinite(proxy) ? proxy : 0);
  return {
    value,
    cpu: { generator, proxy, backend, other: Math.max(0, other) },
    proxySeconds: proxyPids.length > 0 ? b.proxy.cpuSeconds - a.proxy.cpuSeconds : Number.NaN,
    proxyPreempted: proxyPids.length > 0 ? b.proxyPreempted - a.proxyPreempted : Number.NaN,
  };
}

/** The proxy's CPU time per unit of work, in microseconds (NaN for direct). */
function perUnitUs(proxySeconds: number, units: number): number {
  return units > 0 ? (proxySeconds * 1e6) / units : Number.NaN;
}

function checkConnected(name: string, rs: { connected: number; errors: number }[], want: number): string[] {
  const connected = rs.reduce((a, r) => a + r.connected, 0);
  const errors = rs.reduce((a, r) => a + r.errors, 0);
  if (connected === 0) throw new Error(`${name}: no connection could be opened`);
  return connected < want || errors > 0
    ? [`${name}: ${connected}/${want} connected, ${errors} socket errors`]
    : [];
}

export function runEcho(ctx: Ctx, cfg = ctx.s.echo, name = 'echo'): Promise<WorkloadResult> {
  return runEchoWith(ctx, cfg, name, {});
}

async function runEchoWith(
  ctx: Ctx,
  cfg: Settings['echo'],
  name: string,
  protocol: Partial<Pick<EchoArgs, 'path' | 'text' | 'protocol' | 'greeting'>>,
): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const { value, cpu, proxySeconds } = await measured(ctx, (onPhase) =>
    ctx.pool.all<EchoResult>(
      'echo',
      (i): EchoArgs => ({ ...endpoint(ctx), ...cfg, ...protocol, conns: split(cfg.conns, n, i) }),
      onPhase,
    ),
  );
  const perSec = value.reduce((a, r) => a + (r.messages / r.elapsedMs) * 1000, 0);
  // One echo is two relayed messages (there and back).
  const cpuUsPerMsg = perUnitUs(
    proxySeconds,
    value.reduce((a, r) => a + r.messages, 0),
  );
  const notes = checkConnected(name, value, cfg.conns);
  if (name === 'large')
    return {
      metrics: { mbPerSec: (perSec * cfg.payload) / 1e6, msgsPerSec: perSec, cpuUsPerMsg },
      cpu,
      notes,
    };
  return { metrics: { msgsPerSec: perSec, cpuUsPerMsg }, cpu, notes };
}

/**
 * The echo workload speaking a protocol the sidecar decodes, so decoding is on the path: each
 * message is a Socket.IO event (`42["tick","…"]`, over engine.io's WebSocket transport, after
 * the open packet and a CONNECT), or a graphql-ws ping answered by a `next` of the same length
 * (after connection_init/ack and one subscribe). Same size, window and connections as echo.
 */
export function runProtocolEcho(ctx: Ctx, kind: 'socketio' | 'graphql'): Promise<WorkloadResult> {
  const cfg = ctx.s.echo;
  const pad = (n: number) => 'x'.repeat(Math.max(0, n));
  const ep =
    kind === 'socketio'
      ? {
          path: '/socket.io/?EIO=4&transport=websocket',
          text: `42["tick","${pad(cfg.payload - 13)}"]`,
          greeting: { send: ['40'], skip: 2 },
        }
      : {
          path: '/graphql',
          protocol: 'graphql-transport-ws',
          text: `{"type":"ping","payload":{"p":"${pad(cfg.payload - 34)}"}}`,
          greeting: {
            send: [
              '{"type":"connection_init"}',
              '{"id":"1","type":"subscribe","payload":{"query":"subscription { p }"}}',
            ],
            skip: 1,
          },
        };
  return runEchoWith(ctx, cfg, kind, ep);
}

export function runLarge(ctx: Ctx): Promise<WorkloadResult> {
  return runEcho(ctx, ctx.s.large, 'large');
}

/**
 * How late the sidecar's event loop ran (max and p99, in µs), from its delay gauges on the admin
 * /metrics less their 10 ms sampling interval, which every sample includes. Each scrape starts a
 * new window, so one scrape before a run and one after it cover the run.
 */
async function eventLoopLag(
  adminUrl: string | undefined,
): Promise<{ maxUs: number; p99Us: number } | undefined> {
  if (adminUrl === undefined) return undefined;
  try {
    const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const max = sumSamples(text, METRICS.eventLoopLagMax.name);
    const p99 = sumSamples(text, METRICS.eventLoopLagP99.name);
    if (max === null || p99 === null) return undefined;
    const interval = EVENT_LOOP_SAMPLE_MS * 1000;
    return { maxUs: max * 1e6 - interval, p99Us: p99 * 1e6 - interval };
  } catch {
    return undefined;
  }
}

export async function runLatency(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.latency;
  await eventLoopLag(ctx.target.adminUrl); // opens a fresh window
  const { value, cpu, proxySeconds, proxyPreempted } = await measured(ctx, (onPhase) =>
    ctx.pool.all<LatencyResult>(
      'latency',
      (i) => ({
        ...endpoint(ctx),
        ...cfg,
        conns: split(cfg.conns, n, i),
        rate: cfg.rate / n,
      }),
      onPhase,
    ),
  );
  const lag = await eventLoopLag(ctx.target.adminUrl);
  const all = sortNumbers(value.flatMap((r) => r.samplesUs));
  const notes = checkConnected('latency', value, cfg.conns);
  return {
    metrics: {
      ...(lag ? { loopLagMaxUs: lag.maxUs, loopLagP99Us: lag.p99Us } : {}),
      p50Us: percentile(all, 50),
      p99Us: percentile(all, 99),
      p999Us: percentile(all, 99.9),
      samples: all.length,
      cpuUsPerMsg: perUnitUs(proxySeconds, all.length),
      // How often the kernel took the proxy's core away mid-run: a message that arrives then
      // waits for the proxy to be scheduled again, whatever the proxy's own code does.
      preemptedPer1k: all.length > 0 ? (proxyPreempted * 1000) / all.length : Number.NaN,
    },
    cpu,
    notes,
  };
}

export async function runHandshake(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.handshake;
  const { value, cpu, proxySeconds } = await measured(ctx, () =>
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
    metrics: {
      perSec,
      p50Us: percentile(all, 50),
      p99Us: percentile(all, 99),
      failed,
      cpuUsPerMsg: perUnitUs(
        proxySeconds,
        value.reduce((a, r) => a + r.completed, 0),
      ),
    },
    cpu,
    notes: failed > 0 ? [`handshake: ${failed} failed attempts`] : [],
  };
}

/** Keep-alive HTTP (`/http`) or long-poll cycles (`/poll`): closed loop, one request in flight per connection. */
export async function runHttp(ctx: Ctx, kind: 'http' | 'longpoll'): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = kind === 'http' ? ctx.s.http : ctx.s.longpoll;
  const path = kind === 'http' ? '/http' : '/poll';
  const { value, cpu, proxySeconds } = await measured(ctx, (onPhase) =>
    ctx.pool.all<HttpResult>(
      'httpRequests',
      (i) => ({ ...endpoint(ctx), ...cfg, path, conns: split(cfg.conns, n, i) }),
      onPhase,
    ),
  );
  const responses = value.reduce((a, r) => a + r.responses, 0);
  const perSec = value.reduce((a, r) => a + (r.responses / r.elapsedMs) * 1000, 0);
  const reconnects = value.reduce((a, r) => a + r.reconnects, 0);
  const bad = value.reduce((a, r) => a + r.bad, 0);
  const all = sortNumbers(value.flatMap((r) => r.samplesUs));
  const notes = checkConnected(kind, value, cfg.conns);
  if (bad > 0) notes.push(`${kind}: ${bad} responses were not 200`);
  return {
    metrics: {
      perSec,
      p50Us: percentile(all, 50),
      p99Us: percentile(all, 99),
      // Share of responses after which the server closed the connection (0 = keep-alive held).
      reconnectShare: responses > 0 ? reconnects / responses : Number.NaN,
      cpuUsPerMsg: perUnitUs(proxySeconds, responses),
    },
    cpu,
    notes,
  };
}

/** SSE fan-out: `clients` streams of one backend feed; events delivered per second. */
export async function runSse(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.sse;
  const { value, cpu, proxySeconds } = await measured(ctx, (onPhase) =>
    ctx.pool.all<SseResult>(
      'sse',
      (i) => ({
        ...endpoint(ctx),
        path: `/sse?every=${cfg.everyMs}`,
        clients: split(cfg.clients, n, i),
        warmupMs: cfg.warmupMs,
        durationMs: cfg.durationMs,
      }),
      onPhase,
    ),
  );
  const events = value.reduce((a, r) => a + r.events, 0);
  const perSec = value.reduce((a, r) => a + (r.events / r.elapsedMs) * 1000, 0);
  const expected = (cfg.clients * 1000) / cfg.everyMs;
  return {
    metrics: { perSec, deliveredShare: perSec / expected, cpuUsPerMsg: perUnitUs(proxySeconds, events) },
    cpu,
    notes: checkConnected('sse', value, cfg.clients),
  };
}

/** Broadcast: one backend message to `clients` WebSockets, `rate` times a second. */
export async function runBroadcast(ctx: Ctx): Promise<WorkloadResult> {
  const n = ctx.pool.size;
  const cfg = ctx.s.broadcast;
  const { value, cpu, proxySeconds } = await measured(ctx, (onPhase) =>
    ctx.pool.all<BroadcastResult>(
      'broadcast',
      (i) => ({
        ...endpoint(ctx),
        ...cfg,
        path: '/broadcast',
        clients: split(cfg.clients, n, i),
        trigger: i === 0,
      }),
      onPhase,
    ),
  );
  const delivered = value.reduce((a, r) => a + r.delivered, 0);
  const sent = value.reduce((a, r) => a + r.sent, 0);
  const connected = value.reduce((a, r) => a + r.connected, 0);
  const perSec = value.reduce((a, r) => a + (r.delivered / r.elapsedMs) * 1000, 0);
  return {
    metrics: {
      perSec,
      deliveredShare: sent > 0 ? delivered / (sent * connected) : Number.NaN,
      cpuUsPerMsg: perUnitUs(proxySeconds, delivered),
    },
    cpu,
    notes: checkConnected('broadcast', value, cfg.clients),
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
