/**
 * Where the memory of an idle proxied WebSocket goes: the sidecar as the bench starts it (in
 * front of the bench backend, --log off), N idle WebSockets through it, and for each connection
 * its RSS, its share of the V8 heap in use, and the live objects it keeps, by kind, from two heap
 * snapshots (before and after opening them).
 *
 *   node dist/bench/heap-per-connection.js [--conns N] [--top K] [--node-args="..."]
 *
 * --node-args passes V8 flags to the sidecar, e.g. --node-args="--max-semi-space-size=1" to see how much of
 * the RSS is the young generation growing rather than the connections themselves.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { sumSamples } from '../proxy/metrics/exposition.js';
import { growthPerUnit, type HeapSnapshot, liveByKind } from './lib/heap-snapshot.js';
import { sampleGroup } from './lib/procs.js';
import { startBackend, startTarget } from './lib/targets.js';

const USAGE = 'usage: node dist/bench/heap-per-connection.js [--conns N] [--top K] [--node-args="FLAGS"]';

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

async function heapUsedKiB(adminUrl: string): Promise<number> {
  const bytes = sumSamples(await (await fetch(`${adminUrl}/metrics`)).text(), 'nodejs_heap_size_used_bytes');
  if (bytes === null) throw new Error('the sidecar exports no nodejs_heap_size_used_bytes');
  return bytes / 1024;
}

/** Signals the sidecar to write a snapshot into dir and waits until it is complete. */
async function snapshot(pid: number, dir: string): Promise<HeapSnapshot> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    try {
      return JSON.parse(readFileSync(join(dir, file), 'utf8')) as HeapSnapshot;
    } catch {
      // still being written
    }
  }
  throw new Error('the sidecar wrote no heap snapshot within 60 s');
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      conns: { type: 'string', default: '2000' },
      top: { type: 'string', default: '20' },
      'node-args': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const conns = positive('conns', values.conns!);
  const top = positive('top', values.top!);
  const dir = mkdtempSync(join(tmpdir(), 'socketlens-heap-'));
  process.env.SOCKETLENS_BENCH_NODE_ARGS =
    `${values['node-args']} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`.trim();
  const place = { proxyCpus: null, loadCpus: null };
  const backend = await startBackend(place);
  const sidecar = await startTarget('sidecar', backend, place);
  const sockets: WebSocket[] = [];
  try {
    const pid = sidecar.pgid!;
    const url = `ws://${sidecar.host}:${sidecar.port}/ws`;
    // One connection opened and closed first, so the code paths exist before the first snapshot.
    (await open(url)).close();
    await sleep(500);
    // The first snapshot before the baseline: writing one grows the RSS for good, and that growth
    // must be in both samples, not in the difference.
    const before = liveByKind(await snapshot(pid, dir));
    await sleep(1000);
    const rss0 = sampleGroup(sidecar.pids()).rssBytes / 1024;
    const heap0 = await heapUsedKiB(sidecar.adminUrl!);
    process.stderr.write(`opening ${conns} idle WebSockets through the sidecar ...\n`);
    for (let i = 0; i < conns; i += 50) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, conns - i) }, () => open(url)))));
    }
    await sleep(1500);
    const rss1 = sampleGroup(sidecar.pids()).rssBytes / 1024;
    const heap1 = await heapUsedKiB(sidecar.adminUrl!);
    const after = liveByKind(await snapshot(pid, dir));
    const rows = growthPerUnit(before, after, conns);
    const live = rows.reduce((a, r) => a + r.bytes, 0);
    const out = [
      `sidecar, ${conns} idle WebSockets (node args: ${values['node-args'] || 'none'})`,
      `RSS per connection:            ${((rss1 - rss0) / conns).toFixed(2)} KiB`,
      `V8 heap in use per connection: ${((heap1 - heap0) / conns).toFixed(2)} KiB (live and not yet collected)`,
      `live objects per connection:   ${(live / 1024).toFixed(2)} KiB (heap snapshots, by kind below)`,
      '',
      '   bytes  objects  kind',
      ...rows
        .slice(0, top)
        .map((r) => `${r.bytes.toFixed(0).padStart(8)}  ${r.count.toFixed(2).padStart(7)}  ${r.kind}`),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const s of sockets) s.terminate();
    await sidecar.stop();
    await backend.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`heap-per-connection: ${err.message}\n${USAGE}\n`);
  process.exit(1);
});
