/**
 * The CPU gate: does the sidecar's relay still cost about what a bare Node pipe costs?
 *
 *   node dist/bench/gate.js [--rounds 7] [--max-ratio 1.15] [--seconds 2] [--json FILE]
 *
 * The sidecar and the plain pipe (bench/targets/node-pipe.ts) run at the same time, in front of
 * one backend, each carrying half of the same echo load from the same generator threads. Each
 * round measures each proxy's CPU time (user + system, from /proc) per echoed message over the
 * same window. Because both run side by side in the same window, whatever else the machine is
 * doing hits both alike, and their ratio stays meaningful on a loaded machine where absolute
 * timings do not. The result is the median of the per-round ratios; the gate fails (exit 1)
 * when it exceeds --max-ratio. Nothing is pinned.
 */
import { LoadPool, split } from './load/pool.js';
import type { LatencyResult } from './load/worker.js';
import { sampleGroup } from './lib/procs.js';
import { median } from './lib/stats.js';
import { type Placement, type Running, startBackend, startTarget } from './lib/targets.js';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';

interface GateArgs {
  rounds: number;
  maxRatio: number;
  seconds: number;
  json: string | null;
}

function parse(argv: string[]): GateArgs {
  const a: GateArgs = { rounds: 7, maxRatio: 1.15, seconds: 2, json: null };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const num = (min: number) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < min) throw new Error(`${f}: a number ≥ ${min}`);
      return v;
    };
    if (f === '--rounds') a.rounds = Math.floor(num(1));
    else if (f === '--max-ratio') a.maxRatio = num(0.1);
    else if (f === '--seconds') a.seconds = num(0.2);
    else if (f === '--json') a.json = argv[++i];
    else if (f === '--help' || f === '-h') {
      process.stdout.write(
        'usage: node dist/bench/gate.js [--rounds N] [--max-ratio R] [--seconds S] [--json FILE]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown flag ${f}`);
  }
  return a;
}

/**
 * Open loop at a fixed rate, the same for both proxies: they relay the same number of messages
 * with the same arrival pattern, so neither gains from batching more reads than the other (a
 * closed loop lets the faster proxy batch more and look cheaper still).
 */
const LOAD = { conns: 50, rate: 4000, payload: 64, warmupMs: 300 };
const log = (m: string) => process.stderr.write(`[gate] ${m}\n`);

export interface GateRound {
  sidecarUs: number;
  pipeUs: number;
  ratio: number;
  sidecarMsgs: number;
  pipeMsgs: number;
}

async function round(pool: LoadPool, sidecar: Running, pipe: Running, seconds: number): Promise<GateRound> {
  const sPids = sidecar.pids();
  const pPids = pipe.pids();
  const workers = pool.size;
  pool.window('waiting');
  let ready!: () => void;
  const allReady = new Promise<void>((r) => {
    ready = r;
  });
  let starts = 0;
  // Two commands per worker (one per proxy); each says 'start' once it is connected and warm.
  const onPhase = (phase: 'start' | 'end') => {
    if (phase === 'start' && ++starts === 2 * workers) ready();
  };
  const run = (t: Running) =>
    pool.all<LatencyResult>(
      'latency',
      (i) => ({
        host: t.host,
        port: t.port,
        path: '/ws',
        localAddresses: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'],
        ...LOAD,
        durationMs: 0,
        sharedWindow: true,
        conns: split(LOAD.conns, workers, i),
        rate: LOAD.rate / workers,
      }),
      onPhase,
    );
  const results = Promise.all([run(sidecar), run(pipe)]);
  await allReady;
  // The same window for both proxies, opened and closed by this thread for every command at once.
  const s0 = sampleGroup(sPids);
  const p0 = sampleGroup(pPids);
  pool.window('open');
  await sleep(seconds * 1000);
  pool.window('closed');
  const s1 = sampleGroup(sPids);
  const p1 = sampleGroup(pPids);
  const [sr, pr] = await results;
  const count = (rs: LatencyResult[]) => rs.reduce((a, r) => a + r.samplesUs.length, 0);
  const sidecarMsgs = count(sr);
  const pipeMsgs = count(pr);
  if (sidecarMsgs === 0 || pipeMsgs === 0) throw new Error('no messages echoed');
  const sidecarUs = ((s1.cpuSeconds - s0.cpuSeconds) * 1e6) / sidecarMsgs;
  const pipeUs = ((p1.cpuSeconds - p0.cpuSeconds) * 1e6) / pipeMsgs;
  return { sidecarUs, pipeUs, ratio: sidecarUs / pipeUs, sidecarMsgs, pipeMsgs };
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const place: Placement = { proxyCpus: null, loadCpus: null };
  const pool = new LoadPool(2);
  let backend: Running | undefined;
  let sidecar: Running | undefined;
  let pipe: Running | undefined;
  const rounds: GateRound[] = [];
  const load0 = loadavg()[0];
  try {
    backend = await startBackend(place);
    sidecar = await startTarget('sidecar', backend, place);
    pipe = await startTarget('pipe', backend, place);
    // One unmeasured round: JIT warm-up of both proxies.
    await round(pool, sidecar, pipe, 0.5);
    for (let r = 0; r < args.rounds; r++) {
      const g = await round(pool, sidecar, pipe, args.seconds);
      rounds.push(g);
      log(
        `round ${r + 1}: sidecar ${g.sidecarUs.toFixed(2)} µs/echo (${g.sidecarMsgs} echoes), pipe ${g.pipeUs.toFixed(2)} µs/echo (${g.pipeMsgs}), ratio ${g.ratio.toFixed(3)}`,
      );
    }
  } finally {
    await pool.close();
    await sidecar?.stop().catch(() => {});
    await pipe?.stop().catch(() => {});
    await backend?.stop().catch(() => {});
  }
  const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  const med = median(ratios);
  const pass = med <= args.maxRatio;
  const summary = {
    pass,
    medianRatio: med,
    maxRatio: args.maxRatio,
    ratios,
    sidecarUs: median(rounds.map((r) => r.sidecarUs)),
    pipeUs: median(rounds.map((r) => r.pipeUs)),
    loadAverage: [load0, loadavg()[0]],
    rounds,
  };
  if (args.json) writeFileSync(args.json, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `${pass ? 'PASS' : 'FAIL'} sidecar CPU per echo = ${med.toFixed(3)}× the plain pipe's (median of ${rounds.length} rounds, limit ${args.maxRatio}×; ` +
      `sidecar ${summary.sidecarUs.toFixed(2)} µs, pipe ${summary.pipeUs.toFixed(2)} µs; ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}; load ${load0.toFixed(1)})\n`,
  );
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`gate: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
