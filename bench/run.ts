/**
 * socketlens benchmark harness: `npm run bench` (node dist/bench/run.js).
 *
 *   --quick               smoke mode: 1 round, ~1 s per workload, small counts, no 9k idle test
 *   --only a,b            workloads: echo,socketio,graphql,latency,large,handshake,http,longpoll,sse,
 *                         broadcast,idle,scanner (default: all)
 *   --targets a,b         targets: direct,sidecar,nginx,haproxy,pipe (default), sidecar-noproto
 *   --rounds N            rounds, targets alternating within each (default 3; 1 with --quick)
 *   --workers N           load-generator threads (default 2)
 *   --out DIR             where results go (default bench/results)
 *   --no-pin              do not pin processes to CPUs with taskset
 *
 * Each (round, target) starts a fresh backend and a fresh target process; see bench/README.md.
 */
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../lab/runner/paths.js';
import { LoadPool } from './load/pool.js';
import { runScannerBench } from './microbench.js';
import { canPin, pin } from './lib/procs.js';
import { median } from './lib/stats.js';
import {
  componentVersions,
  type Placement,
  type Running,
  startBackend,
  startTarget,
  DEFAULT_TARGETS,
  TARGETS,
  type TargetName,
} from './lib/targets.js';
import {
  computeLimits,
  computeSpread,
  computeMedians,
  limitingResource,
  renderReport,
  type RunRecord,
  writeResults,
} from './report.js';
import {
  runEcho,
  runProtocolEcho,
  runHandshake,
  runIdle,
  runLarge,
  runLatency,
  runBroadcast,
  runHttp,
  runSse,
  settings,
  WORKLOADS,
  type WorkloadName,
  type WorkloadResult,
} from './workloads.js';

interface Args {
  quick: boolean;
  only: WorkloadName[];
  targets: TargetName[];
  rounds: number;
  workers: number;
  out: string;
  pin: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = {
    quick: false,
    only: [...WORKLOADS],
    targets: [...DEFAULT_TARGETS],
    rounds: 3,
    workers: 2,
    out: join(repoRoot(), 'bench', 'results'),
    pin: true,
  };
  let roundsGiven = false;
  const list = <T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T[] => {
    const items = (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const i of items)
      if (!allowed.includes(i as T))
        throw new Error(`${flag}: unknown "${i}" (one of ${allowed.join(', ')})`);
    if (items.length === 0) throw new Error(`${flag}: needs a comma-separated list`);
    return items as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => argv[++i];
    switch (f) {
      case '--quick':
        a.quick = true;
        break;
      case '--only':
        a.only = list(next(), WORKLOADS, f);
        break;
      case '--targets':
        a.targets = list(next(), TARGETS, f);
        break;
      case '--rounds':
        a.rounds = Number(next());
        roundsGiven = true;
        if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds: a positive integer');
        break;
      case '--workers':
        a.workers = Number(next());
        if (!Number.isInteger(a.workers) || a.workers < 1) throw new Error('--workers: a positive integer');
        break;
      case '--out':
        a.out = next();
        break;
      case '--no-pin':
        a.pin = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: node dist/bench/run.js [--quick] [--only w,...] [--targets t,...] [--rounds N] [--workers N] [--out DIR] [--no-pin]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${f}`);
    }
  }
  if (a.quick && !roundsGiven) a.rounds = 1;
  return a;
}

/** Proxied connections a target's own (lab) configuration can hold: nginx's worker_connections
 * 4096 counts both sides of each proxied connection, HAProxy's global maxconn is 8192. */
const IDLE_CAPACITY: Record<TargetName, number> = {
  direct: 0,
  sidecar: Number.POSITIVE_INFINITY,
  'sidecar-noproto': Number.POSITIVE_INFINITY,
  pipe: Number.POSITIVE_INFINITY,
  nginx: 2000,
  haproxy: 8000,
};

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const s = settings(args.quick);
  // A full round of every target and workload takes 4–5 min on 2 cores; the budget grows with the rounds.
  const budgetMs = args.quick ? 90_000 : (10 + 8 * args.rounds) * 60_000;
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${budgetMs / 1000} s, giving up`);
    process.exit(3);
  }, budgetMs);
  watchdog.unref();

  // Machine facts first: once this process is pinned, availableParallelism() reports 1.
  const cores = availableParallelism();
  const pinned = args.pin && canPin();
  const place: Placement = pinned ? { proxyCpus: '1', loadCpus: '0' } : { proxyCpus: null, loadCpus: null };
  // Pin this process (and so the generator threads it is about to start) before anything else.
  if (pinned) pin(process.pid, '0');
  const pool = new LoadPool(args.workers);

  const machine = {
    cores,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    ...componentVersions(),
    pinning: pinned
      ? 'taskset: proxy under test on CPU 1; backend + load generator on CPU 0'
      : 'none (taskset unavailable, <2 CPUs, or --no-pin)',
    loadAverageAtStart: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    generator: `${args.workers} worker_threads, raw-socket WebSocket client, ${s.sourceAddresses.length} source addresses 127.0.0.2-${s.sourceAddresses.length + 1}`,
  };
  log(
    `targets ${args.targets.join(',')}; workloads ${args.only.join(',')}; rounds ${args.rounds}${args.quick ? ' (quick)' : ''}; ${machine.pinning}`,
  );

  const records: RunRecord[] = [];
  const scannerRuns: Record<string, number>[] = [];
  const notes: string[] = [];
  const netWorkloads: WorkloadName[] = args.only.filter((w) => w !== 'scanner');
  // Idle first, while the target process is fresh, so its baseline RSS is the process at rest.
  const order: WorkloadName[] = ['idle', ...WORKLOADS.filter((w) => w !== 'idle' && w !== 'scanner')];
  const t0 = Date.now();

  for (let round = 0; round < args.rounds; round++) {
    if (args.only.includes('scanner')) {
      const r = await runScannerBench(s.scanner.timeMs);
      scannerRuns.push(r);
      records.push({ round, target: '-', workload: 'scanner', metrics: r });
      log(`round ${round + 1} scanner ${JSON.stringify(r)}`);
    }
    if (netWorkloads.length === 0) continue;
    // Alternate: each round starts with the next target.
    const targets = args.targets.map((_, i) => args.targets[(i + round) % args.targets.length]);
    for (const name of targets) {
      let backend: Running | undefined;
      let target: Running | undefined;
      try {
        backend = await startBackend(place);
        target = await startTarget(name, backend, place);
        const ctx = { pool, target, backend, s };
        for (const w of order) {
          if (!netWorkloads.includes(w)) continue;
          if (w === 'idle' && name === 'direct') continue;
          const need = w === 'broadcast' ? s.broadcast.clients : w === 'sse' ? s.sse.clients : 0;
          if (name !== 'direct' && need > IDLE_CAPACITY[name]) {
            notes.push(
              `${name} ${w}: skipped, the target's configuration holds at most ${IDLE_CAPACITY[name]} proxied connections`,
            );
            continue;
          }
          let res: WorkloadResult;
          try {
            switch (w) {
              case 'echo':
                res = await runEcho(ctx);
                break;
              case 'socketio':
              case 'graphql':
                res = await runProtocolEcho(ctx, w);
                break;
              case 'latency':
                res = await runLatency(ctx);
                break;
              case 'large':
                res = await runLarge(ctx);
                break;
              case 'handshake':
                res = await runHandshake(ctx);
                break;
              case 'http':
              case 'longpoll':
                res = await runHttp(ctx, w);
                break;
              case 'sse':
                res = await runSse(ctx);
                break;
              case 'broadcast':
                res = await runBroadcast(ctx);
                break;
              default:
                res = await runIdle(ctx, IDLE_CAPACITY[name]);
            }
          } catch (err) {
            const msg = `${name} ${w} round ${round + 1}: ${(err as Error).message}`;
            log(`ERROR ${msg}`);
            notes.push(msg);
            records.push({ round, target: name, workload: w, metrics: {}, error: msg });
            continue;
          }
          for (const n of res.notes ?? []) notes.push(`${name}: ${n}`);
          const limit = res.cpu ? limitingResource(res.cpu, pinned, cores) : undefined;
          records.push({
            round,
            target: name,
            workload: w,
            metrics: res.metrics,
            cpu: res.cpu,
            limit,
            notes: res.notes,
          });
          const m = Object.entries(res.metrics)
            .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
            .join(' ');
          const c = res.cpu
            ? ` cpu proxy ${res.cpu.proxy.toFixed(0)}% gen ${res.cpu.generator.toFixed(0)}% backend ${res.cpu.backend.toFixed(0)}% other ${res.cpu.other.toFixed(0)}%`
            : '';
          log(
            `round ${round + 1} ${name.padEnd(7)} ${w.padEnd(9)} ${m}${c}${limit ? ` limit: ${limit}` : ''}`,
          );
        }
      } catch (err) {
        const msg = `${name} round ${round + 1}: could not start: ${(err as Error).message.split('\n')[0]}`;
        log(`ERROR ${msg}`);
        notes.push(msg);
      } finally {
        await target?.stop().catch(() => {});
        await backend?.stop().catch(() => {});
      }
    }
  }
  await pool.close();

  Object.assign(machine, {
    loadAverageAtEnd: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  });
  const { medians, cpu } = computeMedians(records.filter((r) => r.workload !== 'scanner'));
  const scanner =
    scannerRuns.length > 0
      ? {
          nsPerSmallFrame: median(scannerRuns.map((r) => r.nsPerSmallFrame)),
          largeGBPerSec: median(scannerRuns.map((r) => r.largeGBPerSec)),
        }
      : undefined;
  if (scanner)
    medians.scanner = {
      nsPerSmallFrame: { '-': scanner.nsPerSmallFrame },
      largeGBPerSec: { '-': scanner.largeGBPerSec },
    };
  const spread = computeSpread(records);
  const text = renderReport({
    machine,
    targets: args.targets,
    medians,
    cpu,
    scanner,
    notes,
    rounds: args.rounds,
    quick: args.quick,
    limits: computeLimits(records),
    spread,
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = {
    startedAt: new Date(t0).toISOString(),
    durationS: (Date.now() - t0) / 1000,
    args,
    settings: s,
    machine,
    medians,
    cpu,
    scanner,
    notes,
    limits: computeLimits(records),
    spread,
    records,
  };
  const files = writeResults(args.out, stamp, json, text);
  process.stdout.write(`${text}\n`);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s; wrote ${files.join(', ')}`);
  clearTimeout(watchdog);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
