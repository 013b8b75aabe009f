/**
 * Soak: up to 100,000 connect/message/close cycles (clean closes, resets from either side,
 * handshake and request timeouts) through a sidecar child process in front of the fault backend
 * (its own child process). Not run by CI (not a *.test.ts file).
 *
 *   npx tsc -p . && node dist/test/hardening/long/soak.js [--cycles 100000] [--concurrency 100]
 *       [--max-seconds 600] [--progress-every 5000] [--rss-margin-mib 48]
 *
 * Prints progress (rate, sidecar RSS and fds, active connections) and a JSON summary. Exit code 0
 * only when, after the run: no cycle failed, every cycle is in the close log with the reason its
 * fault implies, ws_connections_active is 0, the sidecar's open fds equal the post-warm-up
 * baseline, and its RSS is within --rss-margin-mib of that baseline.
 */
import { spawn } from 'node:child_process';
import { waitUntil } from '../../helpers/raw.js';
import { spawnSidecar } from '../../helpers/sidecar-child.js';
import { type ChurnStats, type CycleKind, expectedReasons, OPENS, runChurn } from '../lib/churn.js';

const MiB = 1024 * 1024;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
}

const cycles = arg('cycles', 100_000);
const concurrency = arg('concurrency', 100);
const maxSeconds = arg('max-seconds', 600);
const progressEvery = arg('progress-every', 5000);
const rssMarginMiB = arg('rss-margin-mib', 48);
const log = (s: string) => process.stdout.write(`${s}\n`);

const backendProc = spawn(
  process.execPath,
  [new URL('../lib/fault-backend-main.js', import.meta.url).pathname],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let backendOut = '';
backendProc.stdout!.on('data', (c) => {
  backendOut += c;
});
await waitUntil(() => /port \d+/.test(backendOut), 5000, 'backend start');
const backendPort = Number(/port (\d+)/.exec(backendOut)![1]);

const sc = await spawnSidecar(backendPort, {
  keepLogs: false,
  args: ['--handshake-timeout', '1s', '--request-timeout', '500ms'],
});
log(`soak: sidecar pid ${sc.pid} on :${sc.port}, backend pid ${backendProc.pid} on :${backendPort}`);

const total = {} as Record<CycleKind, number>;
const addKinds = (s: ChurnStats) => {
  for (const k of Object.keys(s.byKind) as CycleKind[]) total[k] = (total[k] ?? 0) + s.byKind[k];
};
const expectedLines = () => [...expectedReasons(total).values()].reduce((a, b) => a + b, 0);

let ok = true;
const problems: string[] = [];
try {
  // Warm-up, then the baseline.
  const warm = await runChurn({ port: sc.port, cycles: 2000, concurrency, sourceAddresses: 50, seed: 3 });
  addKinds(warm);
  await waitUntil(() => sc.logCount() === expectedLines(), 30_000, 'warm-up close log');
  const baseFds = await sc.baselineFds(500);
  const baseRss = sc.rssBytes();
  log(
    `soak: baseline after ${warm.done} warm-up cycles: fds ${baseFds}, RSS ${(baseRss / MiB).toFixed(1)} MiB`,
  );

  let peakRss = baseRss;
  let peakFds = baseFds;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, sc.rssBytes());
    peakFds = Math.max(peakFds, sc.fds());
  }, 100);
  const samples: Array<{ done: number; rssMiB: number; fds: number }> = [];
  const t0 = performance.now();
  const stats = await runChurn({
    port: sc.port,
    cycles,
    concurrency,
    sourceAddresses: 50,
    seed: 99,
    progressEvery,
    deadline: t0 + maxSeconds * 1000,
    onProgress: (s) => {
      const rss = sc.rssBytes();
      const fds = sc.fds();
      samples.push({ done: s.done, rssMiB: Math.round((rss / MiB) * 10) / 10, fds });
      log(
        `soak: ${s.done} cycles, ${Math.round((s.done / s.elapsedMs) * 1000)}/s, failed ${s.failed}, ` +
          `sidecar RSS ${(rss / MiB).toFixed(1)} MiB, fds ${fds}, close-log lines ${sc.logCount()}`,
      );
    },
  });
  clearInterval(sampler);
  addKinds(stats);
  if (stats.failed > 0) {
    ok = false;
    problems.push(`${stats.failed} cycles failed: ${stats.failures.slice(0, 5).join('; ')}`);
  }

  // Quiesce, then the invariants.
  try {
    await waitUntil(() => sc.logCount() === expectedLines(), 30_000, 'close log complete');
  } catch {
    ok = false;
    problems.push(`close log has ${sc.logCount()} lines, expected ${expectedLines()}`);
  }
  const want = expectedReasons(total);
  for (const [reason, n] of want) {
    if (sc.reasons.get(reason) !== n) {
      ok = false;
      problems.push(`reason ${reason}: ${sc.reasons.get(reason) ?? 0} lines, expected ${n}`);
    }
  }
  for (const [reason, n] of sc.reasons) {
    if (!want.has(reason)) {
      ok = false;
      problems.push(`unexpected reason ${reason}: ${n} lines`);
    }
  }
  const active = await sc.metric('ws_connections_active');
  const opened = await sc.metric('ws_connections_opened_total');
  const wantOpened = (Object.keys(total) as CycleKind[])
    .filter((k) => OPENS.has(k))
    .reduce((s, k) => s + total[k], 0);
  const finalFds = await sc.baselineFds(500);
  const finalRss = sc.rssBytes();
  if (active !== 0) problems.push(`ws_connections_active ${active}`);
  if (opened !== wantOpened) problems.push(`ws_connections_opened_total ${opened}, expected ${wantOpened}`);
  if (finalFds !== baseFds) problems.push(`fds ${finalFds}, baseline ${baseFds}`);
  if (finalRss > baseRss + rssMarginMiB * MiB)
    problems.push(`RSS ${(finalRss / MiB).toFixed(1)} MiB > baseline + ${rssMarginMiB} MiB`);
  ok = ok && problems.length === 0;
  const summary = {
    ok,
    problems,
    cycles: stats.done,
    requested: cycles,
    stoppedByTime: stats.done < cycles,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    ratePerSecond: Math.round((stats.done / stats.elapsedMs) * 1000),
    concurrency,
    byKind: stats.byKind,
    reasons: Object.fromEntries([...sc.reasons].sort()),
    wsConnectionsActive: active,
    wsConnectionsOpened: opened,
    fds: { baseline: baseFds, peak: peakFds, final: finalFds },
    rssMiB: {
      baseline: Math.round((baseRss / MiB) * 10) / 10,
      peak: Math.round((peakRss / MiB) * 10) / 10,
      final: Math.round((finalRss / MiB) * 10) / 10,
      margin: rssMarginMiB,
    },
    samples,
  };
  log(JSON.stringify(summary, null, 2));
} finally {
  await sc.stop();
  backendProc.kill('SIGTERM');
}
process.exitCode = ok ? 0 : 1;
