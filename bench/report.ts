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
  notes?: string[];
  error?: string;
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

interface MetricSpec {
  workload: string;
  metric: string;
  label: string;
  unit: string;
  digits: number;
  /** Ratios make sense only where bigger/smaller is a rate or a cost; not for added latency. */
  ratios: boolean;
}

const ROWS: MetricSpec[] = [
  {
    workload: 'echo',
    metric: 'msgsPerSec',
    label: 'echo throughput',
    unit: 'msg/s',
    digits: 0,
    ratios: true,
  },
  { workload: 'latency', metric: 'p50Us', label: 'RTT p50', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'p99Us', label: 'RTT p99', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'p999Us', label: 'RTT p99.9', unit: 'µs', digits: 0, ratios: true },
  { workload: 'latency', metric: 'added_p50Us', label: 'added p50', unit: 'µs', digits: 0, ratios: false },
  { workload: 'latency', metric: 'added_p99Us', label: 'added p99', unit: 'µs', digits: 0, ratios: false },
  { workload: 'latency', metric: 'added_p999Us', label: 'added p99.9', unit: 'µs', digits: 0, ratios: false },
  { workload: 'large', metric: 'mbPerSec', label: '1 MiB echo', unit: 'MB/s', digits: 0, ratios: true },
  { workload: 'handshake', metric: 'perSec', label: 'handshakes', unit: 'conn/s', digits: 0, ratios: true },
  { workload: 'handshake', metric: 'p50Us', label: 'handshake p50', unit: 'µs', digits: 0, ratios: true },
  { workload: 'handshake', metric: 'p99Us', label: 'handshake p99', unit: 'µs', digits: 0, ratios: true },
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
  const sp = g('latency', 'added_p99Us', 'sidecar');
  const np = g('latency', 'added_p99Us', 'nginx');
  cmp("sidecar added p99 ≤ nginx's", sp, np, (a, b) => a <= b, `${fmt(sp, 0)} µs vs ${fmt(np, 0)} µs`);
  for (const k of ['perConnKiB_1k', 'perConnKiB_9k', 'perConnKiB_200']) {
    const v = g('idle', k, 'sidecar');
    if (v === undefined && k === 'perConnKiB_200') continue;
    cmp(
      `sidecar RSS per idle connection @${k.split('_')[1]} ≤ 10 KiB`,
      v,
      10,
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
