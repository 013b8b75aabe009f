/** Medians across rounds, the comparison table, the target checks, and the files they go to. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './lib/stats.js';
import type { CpuUse } from './workloads.js';

export interface RunRecord {
  round: number;
  target: string;
  workload: string;
  metrics: Record<string, number>;
  cpu?: CpuUse;
  /** What bounded this run (see limitingResource). */
  limit?: string;
  notes?: string[];
  error?: string;
}

/**
 * Names the resource that bounded a run, from its CPU use: a single-threaded process (the
 * proxy, the backend) is saturated near 100% of one core; with pinning, CPU 0 carries the
 * generator and the backend together; without it, the machine is the limit when every core is
 * busy. A run none of these bounds was limited by its own schedule (open loop) or by waiting.
 */
export function limitingResource(c: CpuUse, pinned: boolean, cores: number): string {
  const SAT = 90;
  const pct = (v: number) => `${v.toFixed(0)}%`;
  if (Number.isFinite(c.proxy) && c.proxy >= SAT) return `proxy CPU (${pct(c.proxy)})`;
  if (c.backend >= SAT) return `backend CPU (${pct(c.backend)})`;
  const total = (Number.isFinite(c.proxy) ? c.proxy : 0) + c.generator + c.backend + c.other;
  if (total >= SAT * cores) {
    const parts: Array<[string, number]> = [
      ['proxy', Number.isFinite(c.proxy) ? c.proxy : 0],
      ['generator', c.generator],
      ['backend', c.backend],
      ['other processes', c.other],
    ];
    parts.sort((a, b) => b[1] - a[1]);
    return `all cores busy (${pct(total)}; most: ${parts[0][0]} ${pct(parts[0][1])})`;
  }
  if (pinned && c.generator + c.backend >= SAT)
    return `CPU 0: generator+backend (${pct(c.generator + c.backend)})`;
  return 'none saturated (schedule- or wait-bound)';
}

/** limits[workload][target]: the limit most rounds reported. */
export type Limits = Record<string, Record<string, string>>;

export function computeLimits(records: readonly RunRecord[]): Limits {
  const seen = new Map<string, Map<string, number>>();
  for (const r of records) {
    if (!r.limit) continue;
    const k = `${r.workload}\u0000${r.target}`;
    const m = seen.get(k) ?? new Map<string, number>();
    // Group by the resource, not its percentage.
    const what = r.limit.replace(/ \(.*$/, '');
    m.set(what, (m.get(what) ?? 0) + 1);
    seen.set(k, m);
  }
  const out: Limits = {};
  for (const [k, m] of seen) {
    const [w, t] = k.split('\u0000');
    const top = [...m.entries()].sort((a, b) => b[1] - a[1])[0];
    out[w] ??= {};
    out[w][t] = m.size > 1 ? `${top[0]} (${top[1]}/${[...m.values()].reduce((a, b) => a + b, 0)})` : top[0];
  }
  return out;
}

/** medians[workload][metric][target] */
export type Medians = Record<string, Record<string, Record<string, number>>>;
/** cpuMedians[workload][target] */
export type CpuMedians = Record<string, Record<string, CpuUse>>;

export function computeMedians(records: readonly RunRecord[]): { medians: Medians; cpu: CpuMedians } {
  const groups = new Map<string, number[]>();
  const cpuGroups = new Map<string, CpuUse[]>();
  for (const r of records) {
    if (r.error) continue;
    for (const [m, v] of Object.entries(r.metrics)) {
      const k = `${r.workload}\u0000${m}\u0000${r.target}`;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(v);
    }
    if (r.cpu) {
      const k = `${r.workload}\u0000${r.target}`;
      if (!cpuGroups.has(k)) cpuGroups.set(k, []);
      cpuGroups.get(k)!.push(r.cpu);
    }
  }
  const medians: Medians = {};
  for (const [k, vs] of groups) {
    const [w, m, t] = k.split('\u0000');
    medians[w] ??= {};
    medians[w][m] ??= {};
    medians[w][m][t] = median(vs);
  }
  // Added latency: each target's percentile minus direct's.
  for (const w of ['latency', 'handshake']) {
    for (const p of ['p50Us', 'p99Us', 'p999Us']) {
      const row = medians[w]?.[p];
      if (!row || row.direct === undefined) continue;
      const added: Record<string, number> = {};
      for (const [t, v] of Object.entries(row)) if (t !== 'direct') added[t] = v - row.direct;
      medians[w][`added_${p}`] = added;
    }
  }
  const cpu: CpuMedians = {};
  for (const [k, cs] of cpuGroups) {
    const [w, t] = k.split('\u0000');
    cpu[w] ??= {};
    cpu[w][t] = {
      generator: median(cs.map((c) => c.generator)),
      proxy: median(cs.map((c) => c.proxy)),
      backend: median(cs.map((c) => c.backend)),
      other: median(cs.map((c) => c.other)),
    };
  }
  return { medians, cpu };
}

/** The added latency of one target, round by round: what the medians hide. */
export interface LatencySpread {
  /** Added µs (target − direct of the same round), in round order. */
  p99: number[];
  p999: number[];
  /** Rounds in which this target's added latency was at most nginx's (same round). */
  p99AtMostNginx: number;
  p999AtMostNginx: number;
}

/** spread[target]: the latency workload's added p99 and p99.9, per round. */
export type Spread = Record<string, LatencySpread>;

/** Per-round added latency of every proxy target, from rounds in which direct ran too. */
export function computeSpread(records: readonly RunRecord[]): Spread {
  const byRound = new Map<number, Map<string, Record<string, number>>>();
  for (const r of records) {
    if (r.workload !== 'latency' || r.error) continue;
    const m = byRound.get(r.round) ?? new Map<string, Record<string, number>>();
    m.set(r.target, r.metrics);
    byRound.set(r.round, m);
  }
  const out: Spread = {};
  for (const round of [...byRound.keys()].sort((a, b) => a - b)) {
    const m = byRound.get(round)!;
    const direct = m.get('direct');
    if (!direct) continue;
    const added = (t: string, p: 'p99Us' | 'p999Us') => {
      const v = m.get(t)?.[p];
      return v === undefined ? undefined : v - direct[p];
    };
    for (const t of m.keys()) {
      if (t === 'direct') continue;
      out[t] ??= { p99: [], p999: [], p99AtMostNginx: 0, p999AtMostNginx: 0 };
      const s = out[t];
      const a99 = added(t, 'p99Us')!;
      const a999 = added(t, 'p999Us')!;
      s.p99.push(a99);
      s.p999.push(a999);
      const n99 = added('nginx', 'p99Us');
      const n999 = added('nginx', 'p999Us');
      if (n99 !== undefined && a99 <= n99) s.p99AtMostNginx++;
      if (n999 !== undefined && a999 <= n999) s.p999AtMostNginx++;
    }
  }
  return out;
}

/** The spread section: min / median / max of each target's added p99 and p99.9 over the rounds. */
export function renderSpread(spread: Spread, targets: readonly string[]): string[] {
  const shown = targets.filter((t) => spread[t] && spread[t].p99.length > 0);
  if (shown.length === 0) return [];
  const mmm = (vs: number[]) =>
    `${fmt(Math.min(...vs), 0)} / ${fmt(median(vs), 0)} / ${fmt(Math.max(...vs), 0)}`;
  const rows = shown.map((t) => {
    const s = spread[t]!;
    const n = s.p99.length;
    const vsNginx = t === 'nginx' || !shown.includes('nginx');
    return [
      t,
      String(n),
      mmm(s.p99),
      mmm(s.p999),
      vsNginx ? '–' : `${s.p99AtMostNginx}/${n}`,
      vsNginx ? '–' : `${s.p999AtMostNginx}/${n}`,
    ];
  });
  return [
    'Added latency over the rounds (latency workload; µs, min / median / max; each round against direct of the same round):',
    table(['target', 'rounds', 'added p99', 'added p99.9', 'p99 ≤ nginx', 'p99.9 ≤ nginx'], rows),
  ];
}

interface MetricSpec {
  workload: string;
  metric: string;
  label: string;
  unit: string;
  digits: number;
  /** Ratios make sense only where bigger/smaller is a rate or a cost; not for added latency. */
  ratios: boolean;
}

const cpuRow = (workload: string, label: string): MetricSpec => ({
  workload,
  metric: 'cpuUsPerMsg',
  label: `${label}: proxy CPU`,
  unit: 'µs/msg',
  digits: 2,
  ratios: true,
});

const ROWS: MetricSpec[] = [
  {
    workload: 'echo',
    metric: 'msgsPerSec',
    label: 'echo throughput',
    unit: 'msg/s',
    digits: 0,
    ratios: true,
  },
  { ...cpuRow('echo', 'echo'), unit: 'µs/echo' },
  {
    workload: 'socketio',
    metric: 'msgsPerSec',
    label: 'Socket.IO event echo',
    unit: 'msg/s',
    digits: 0,
    ratios: true,
  },
  { ...cpuRow('socketio', 'Socket.IO event echo'), unit: 'µs/echo' },
  {
    workload: 'graphql',
    metric: 'msgsPerSec',
    label: 'graphql-ws ping/next',
    unit: 'msg/s',
    digits: 0,
    ratios: true,
  },
  { ...cpuRow('graphql', 'graphql-ws ping/next'), unit: 'µs/echo' },
  { workload: 'latency', metric: 'p50Us', label: 'RTT p50', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'p99Us', label: 'RTT p99', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'p999Us', label: 'RTT p99.9', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'added_p50Us', label: 'added p50', unit: 'µs', digits: 0, ratios: false },
  { workload: 'latency', metric: 'added_p99Us', label: 'added p99', unit: 'µs', digits: 0, ratios: false },
  { workload: 'latency', metric: 'added_p999Us', label: 'added p99.9', unit: 'µs', digits: 0, ratios: false },
  { ...cpuRow('latency', 'latency run'), unit: 'µs/echo' },
  {
    workload: 'latency',
    metric: 'loopLagP99Us',
    label: 'sidecar event-loop lateness p99',
    unit: 'µs',
    digits: 0,
    ratios: false,
  },
  {
    workload: 'latency',
    metric: 'loopLagMaxUs',
    label: 'sidecar event-loop lateness max',
    unit: 'µs',
    digits: 0,
    ratios: false,
  },
  {
    workload: 'latency',
    metric: 'preemptedPer1k',
    label: 'latency run: proxy preempted',
    unit: 'per 1k echoes',
    digits: 1,
    ratios: true,
  },
  { workload: 'large', metric: 'mbPerSec', label: '1 MiB echo', unit: 'MB/s', digits: 0, ratios: true },
  { ...cpuRow('large', '1 MiB echo'), unit: 'µs/echo' },
  { workload: 'handshake', metric: 'perSec', label: 'handshakes', unit: 'conn/s', digits: 0, ratios: true },
  { workload: 'handshake', metric: 'p50Us', label: 'handshake p50', unit: 'µs', digits: 0, ratios: true },
  { workload: 'handshake', metric: 'p99Us', label: 'handshake p99', unit: 'µs', digits: 0, ratios: true },
  { ...cpuRow('handshake', 'handshake'), unit: 'µs/conn' },
  { workload: 'http', metric: 'perSec', label: 'HTTP keep-alive', unit: 'req/s', digits: 0, ratios: true },
  { workload: 'http', metric: 'p99Us', label: 'HTTP p99', unit: 'µs', digits: 0, ratios: true },
  {
    workload: 'http',
    metric: 'reconnectShare',
    label: 'HTTP reconnects',
    unit: 'per req',
    digits: 2,
    ratios: false,
  },
  { ...cpuRow('http', 'HTTP'), unit: 'µs/req' },
  { workload: 'longpoll', metric: 'perSec', label: 'long-poll', unit: 'cycles/s', digits: 0, ratios: true },
  {
    workload: 'longpoll',
    metric: 'reconnectShare',
    label: 'long-poll reconnects',
    unit: 'per cycle',
    digits: 2,
    ratios: false,
  },
  { ...cpuRow('longpoll', 'long-poll'), unit: 'µs/cycle' },
  { workload: 'sse', metric: 'perSec', label: 'SSE fan-out', unit: 'events/s', digits: 0, ratios: true },
  { ...cpuRow('sse', 'SSE'), unit: 'µs/event' },
  { workload: 'broadcast', metric: 'perSec', label: 'WS broadcast', unit: 'msg/s', digits: 0, ratios: true },
  {
    workload: 'broadcast',
    metric: 'deliveredShare',
    label: 'broadcast delivered',
    unit: 'share',
    digits: 3,
    ratios: false,
  },
  { ...cpuRow('broadcast', 'broadcast'), unit: 'µs/msg' },
  { workload: 'idle', metric: 'baselineMiB', label: 'RSS baseline', unit: 'MiB', digits: 1, ratios: false },
  {
    workload: 'idle',
    metric: 'perConnKiB_1k',
    label: 'RSS/idle conn @1k',
    unit: 'KiB',
    digits: 2,
    ratios: true,
  },
  {
    workload: 'idle',
    metric: 'afterCloseKiB_1k',
    label: '…after close @1k',
    unit: 'KiB',
    digits: 2,
    ratios: false,
  },
  {
    workload: 'idle',
    metric: 'perConnKiB_9k',
    label: 'RSS/idle conn @9k',
    unit: 'KiB',
    digits: 2,
    ratios: true,
  },
  {
    workload: 'idle',
    metric: 'afterCloseKiB_9k',
    label: '…after close @9k',
    unit: 'KiB',
    digits: 2,
    ratios: false,
  },
  {
    workload: 'idle',
    metric: 'activeAfterClose_1k',
    label: 'sidecar active WS after close @1k',
    unit: 'n',
    digits: 0,
    ratios: false,
  },
  {
    workload: 'idle',
    metric: 'activeAfterClose_9k',
    label: 'sidecar active WS after close @9k',
    unit: 'n',
    digits: 0,
    ratios: false,
  },
  {
    workload: 'idle',
    metric: 'perConnKiB_200',
    label: 'RSS/idle conn @200',
    unit: 'KiB',
    digits: 2,
    ratios: true,
  },
  {
    workload: 'idle',
    metric: 'afterCloseKiB_200',
    label: '…after close @200',
    unit: 'KiB',
    digits: 2,
    ratios: false,
  },
  {
    workload: 'idle',
    metric: 'activeAfterClose_200',
    label: 'sidecar active WS after close @200',
    unit: 'n',
    digits: 0,
    ratios: false,
  },
];

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '';
  return `${(a / b).toFixed(2)}×`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

export interface Check {
  what: string;
  value: string;
  pass: boolean | null;
}

export function checks(m: Medians): Check[] {
  const g = (w: string, k: string, t: string) => m[w]?.[k]?.[t];
  const out: Check[] = [];
  const cmp = (
    what: string,
    a: number | undefined,
    b: number | undefined,
    ok: (a: number, b: number) => boolean,
    show: string,
  ) => {
    const known = a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b);
    out.push({ what, value: known ? show : 'not measured', pass: known ? ok(a, b) : null });
  };
  const se = g('echo', 'msgsPerSec', 'sidecar');
  const ne = g('echo', 'msgsPerSec', 'nginx');
  const pe = g('echo', 'msgsPerSec', 'pipe');
  cmp('sidecar echo throughput ≥ 1.0× nginx', se, ne, (a, b) => a >= b, ratio(se, ne));
  cmp('sidecar echo throughput ≥ 0.9× pipe', se, pe, (a, b) => a >= 0.9 * b, ratio(se, pe));
  const sc = g('echo', 'cpuUsPerMsg', 'sidecar');
  const nc = g('echo', 'cpuUsPerMsg', 'nginx');
  const pc = g('echo', 'cpuUsPerMsg', 'pipe');
  cmp('sidecar CPU per echo ≤ 1.0× nginx', sc, nc, (a, b) => a <= b, ratio(sc, nc));
  cmp('sidecar CPU per echo ≤ 1.15× pipe', sc, pc, (a, b) => a <= 1.15 * b, ratio(sc, pc));
  for (const [p, label] of [
    ['added_p99Us', 'p99'],
    ['added_p999Us', 'p99.9'],
  ] as const) {
    const sp = g('latency', p, 'sidecar');
    const np = g('latency', p, 'nginx');
    cmp(`sidecar added ${label} ≤ nginx's`, sp, np, (a, b) => a <= b, `${fmt(sp, 0)} µs vs ${fmt(np, 0)} µs`);
  }
  for (const w of ['http', 'longpoll']) {
    const a = g(w, 'perSec', 'sidecar');
    const b = g(w, 'perSec', 'nginx');
    cmp(`sidecar ${w} rate ≥ 1.0× nginx`, a, b, (x, y) => x >= y, ratio(a, b));
  }
  for (const [k, max] of [
    ['perConnKiB_1k', 8],
    ['perConnKiB_9k', 6],
    ['perConnKiB_200', 8],
  ] as const) {
    const v = g('idle', k, 'sidecar');
    if (v === undefined && k === 'perConnKiB_200') continue;
    cmp(
      `sidecar RSS per idle connection @${k.split('_')[1]} ≤ ${max} KiB`,
      v,
      max,
      (a, b) => a <= b,
      `${fmt(v, 2)} KiB`,
    );
  }
  const sh = g('handshake', 'perSec', 'sidecar');
  const nh = g('handshake', 'perSec', 'nginx');
  cmp('sidecar handshake rate ≥ 0.8× nginx', sh, nh, (a, b) => a >= 0.8 * b, ratio(sh, nh));
  return out;
}

export interface ReportInput {
  machine: Record<string, unknown>;
  targets: string[];
  medians: Medians;
  cpu: CpuMedians;
  scanner?: Record<string, number>;
  notes: string[];
  rounds: number;
  quick: boolean;
  limits?: Limits;
  spread?: Spread;
}

export function renderReport(r: ReportInput): string {
  const { medians, targets } = r;
  const hasNginx = targets.includes('nginx');
  const hasDirect = targets.includes('direct');
  const out: string[] = [];
  out.push(
    `socketlens bench — medians of ${r.rounds} round(s)${r.quick ? ' (QUICK smoke mode: numbers are not meaningful)' : ''}`,
  );
  out.push('');
  const rows: string[][] = [];
  for (const spec of ROWS) {
    const row = medians[spec.workload]?.[spec.metric];
    if (!row) continue;
    const cells = [`${spec.label} (${spec.unit})`];
    for (const t of targets) {
      const v = row[t];
      let cell = fmt(v, spec.digits);
      if (spec.ratios && v !== undefined) {
        const parts: string[] = [];
        if (hasNginx && t !== 'nginx') parts.push(ratio(v, row.nginx) && `${ratio(v, row.nginx)}n`);
        if (hasDirect && t !== 'direct') parts.push(ratio(v, row.direct) && `${ratio(v, row.direct)}d`);
        const p = parts.filter(Boolean).join(' ');
        if (p) cell += ` (${p})`;
      }
      cells.push(cell);
    }
    rows.push(cells);
  }
  out.push(table(['metric', ...targets], rows));
  out.push('');
  out.push(
    '(…n) = ratio to nginx, (…d) = ratio to direct. Added latency = target percentile − direct percentile.',
  );
  if (r.scanner) {
    out.push('');
    out.push(
      `frame scanner (tinybench): ${fmt(r.scanner.nsPerSmallFrame, 1)} ns per 64-byte masked frame; ` +
        `${fmt(r.scanner.largeGBPerSec, 1)} GB/s on 1 MiB frames in 64 KiB chunks`,
    );
  }
  const spreadLines = r.spread ? renderSpread(r.spread, targets) : [];
  if (spreadLines.length > 0) out.push('', ...spreadLines);
  const cpuRows: string[][] = [];
  for (const [w, byTarget] of Object.entries(r.cpu)) {
    cpuRows.push([
      w,
      ...targets.map((t) => {
        const c = byTarget[t];
        return c
          ? `${fmt(c.proxy, 0)} / ${fmt(c.generator, 0)} / ${fmt(c.backend, 0)} / ${fmt(c.other, 0)}`
          : '–';
      }),
    ]);
  }
  if (cpuRows.length > 0) {
    out.push('');
    out.push(
      'CPU, % of one core: proxy / generator / backend / rest of machine (medians over the whole workload incl. setup; 2 cores = 200%)',
    );
    out.push(table(['workload', ...targets], cpuRows));
  }
  if (r.limits && Object.keys(r.limits).length > 0) {
    out.push('');
    out.push('Limiting resource of each run (most rounds):');
    const limitRows = Object.entries(r.limits).map(([w, byTarget]) => [
      w,
      ...targets.map((t) => byTarget[t] ?? '–'),
    ]);
    out.push(table(['workload', ...targets], limitRows));
  }
  const others = Object.values(r.cpu).flatMap((byTarget) => Object.values(byTarget).map((c) => c.other));
  const worst = Math.max(0, ...others.filter((x) => Number.isFinite(x)));
  if (worst > 25) {
    out.push('');
    out.push(
      `WARNING: other processes used up to ${worst.toFixed(0)}% of a core during the workloads (median per cell, ` +
        'last column of the CPU table). Rankings within ~30% are not trustworthy; rerun on a quiet machine.',
    );
  }
  const cs = checks(medians);
  out.push('');
  out.push('Targets:');
  for (const c of cs)
    out.push(`  ${c.pass === null ? 'N/A ' : c.pass ? 'PASS' : 'MISS'}  ${c.what}: ${c.value}`);
  if (r.notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const n of [...new Set(r.notes)]) out.push(`  - ${n}`);
  }
  out.push('');
  out.push('Machine:');
  for (const [k, v] of Object.entries(r.machine))
    out.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return out.join('\n');
}

export function writeResults(dir: string, stamp: string, json: unknown, markdown: string): string[] {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(json, null, 2)}\n`;
  const md = `# socketlens bench ${stamp}\n\n\`\`\`\n${markdown}\n\`\`\`\n`;
  const files = [
    join(dir, `${stamp}.json`),
    join(dir, `${stamp}.md`),
    join(dir, 'latest.json'),
    join(dir, 'latest.md'),
  ];
  writeFileSync(files[0], text);
  writeFileSync(files[1], md);
  writeFileSync(files[2], text);
  writeFileSync(files[3], md);
  return files;
}
