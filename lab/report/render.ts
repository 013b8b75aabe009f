/** The lab report: a terminal scorecard, report.json and a self-contained report.html (inline SVG). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check, DrillResult, Series } from '../drills/types.js';

export interface DrillRun {
  name: string;
  title: string;
  /** One result per run (--runs N); an error is recorded as a failed result. */
  runs: DrillResult[];
  durationsMs: number[];
}

export interface LabReport {
  startedAt: string;
  env: string;
  runsPerDrill: number;
  passed: boolean;
  drills: Array<{
    name: string;
    title: string;
    passed: boolean;
    runs: number;
    passes: number;
    symptom: Check;
    detected: Check;
    mitigated: Check;
    figure: string;
    figures: string[];
    durationsMs: number[];
    series: Series[];
    data?: Record<string, unknown>;
    /** `lab --target`: what the service did (last run) and what to change, if it failed. */
    service?: { did: string; change: string | null };
    skipped?: string;
  }>;
  /** `lab --target`: the service the drills ran against. */
  target?: string;
  /** With --prometheus: each alert seen pending or firing, and the drills it was seen during. */
  alerts?: Record<string, string[]>;
}

const ok = (c: Check) => c.ok;

/** Folds the runs of a drill: a check is ok only if it was ok in every run. */
function fold(runs: DrillResult[], key: 'symptom' | 'detected' | 'mitigated'): Check {
  const bad = runs.find((r) => !r[key].ok);
  const fails = runs.filter((r) => !r[key].ok).length;
  const c = bad ?? runs[runs.length - 1]!;
  return {
    ok: !bad,
    detail: runs.length > 1 && bad ? `${fails}/${runs.length} failed; ${c[key].detail}` : c[key].detail,
  };
}

export function buildReport(runs: DrillRun[], env: string, runsPerDrill: number, startedAt: Date): LabReport {
  const drills = runs.map((d) => {
    const last = d.runs[d.runs.length - 1]!;
    const passes = d.runs.filter((r) => ok(r.symptom) && ok(r.detected) && ok(r.mitigated)).length;
    return {
      name: d.name,
      title: d.title,
      passed: passes === d.runs.length && d.runs.length > 0,
      runs: d.runs.length,
      passes,
      symptom: fold(d.runs, 'symptom'),
      detected: fold(d.runs, 'detected'),
      mitigated: fold(d.runs, 'mitigated'),
      figure: last.figure,
      figures: d.runs.map((r) => r.figure),
      durationsMs: d.durationsMs,
      series: last.series,
      data: last.data,
      ...(last.service ? { service: last.service } : {}),
      ...(last.skipped ? { skipped: last.skipped } : {}),
    };
  });
  return {
    startedAt: startedAt.toISOString(),
    env,
    runsPerDrill,
    passed: drills.length > 0 && drills.every((d) => d.passed),
    drills,
  };
}

export function scorecard(report: LabReport): string {
  const mark = (c: Check) => (c.ok ? '✓' : '✗');
  const rows = [
    report.target
      ? ['drill', 'fault applied', 'sidecar saw it', 'service coped', 'key figure']
      : ['drill', 'symptom', 'detected', 'mitigated', 'key figure'],
  ];
  for (const d of report.drills) {
    const runs = report.runsPerDrill > 1 ? ` (${d.passes}/${d.runs})` : '';
    if (d.skipped) rows.push([d.name + runs, '-', '-', '-', 'skipped']);
    else rows.push([d.name + runs, mark(d.symptom), mark(d.detected), mark(d.mitigated), d.figure]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const line = (r: string[]) =>
    r.map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length)).join(' │ ');
  const out = [
    // The same header as the HTML report's: which environment the drills ran on.
    `socketlens lab · env ${report.env} · ${report.runsPerDrill} run(s) per drill`,
    line(rows[0]!),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...rows.slice(1).map(line),
  ];
  if (report.target) out.splice(1, 0, `target: ${report.target}`, '');
  for (const d of report.drills) {
    if (d.skipped) {
      out.push(`  - ${d.name} skipped: ${d.skipped}`);
      continue;
    }
    if (d.service) {
      out.push(`  ${d.passed ? '✓' : '✗'} ${d.name}: what your service did: ${d.service.did}`);
      if (d.service.change) out.push(`      what to change: ${d.service.change}`);
      continue;
    }
    for (const key of ['symptom', 'detected', 'mitigated'] as const) {
      if (!d[key].ok) out.push(`  ✗ ${d.name} ${key}: ${d[key].detail}`);
    }
  }
  out.push(report.passed ? 'all drills passed' : 'some drills FAILED');
  return `${out.join('\n')}\n`;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];

/** One chart as inline SVG: lines, points or bars, axes with min/max ticks, a legend. */
export function renderSvg(s: Series): string {
  const W = 640;
  const H = 260;
  const L = 56;
  const R = 16;
  const T = 28;
  const B = 40;
  const all = s.lines.flatMap((l) => l.points);
  const xs = all.map((p) => p[0]);
  const ys = [...all.map((p) => p[1]), ...(s.marks ?? []).map((m) => m.y), 0];
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(...ys, 1) * 1.1;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - (y / y1) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(s.title)}">`,
    `<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(s.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`,
    `<text x="${L - 4}" y="${sy(0) + 4}" font-size="10" text-anchor="end">0</text>`,
    `<text x="${L - 4}" y="${sy(y1 / 1.1) + 4}" font-size="10" text-anchor="end">${Math.round(y1 / 1.1)}</text>`,
    `<text x="${sx(x0)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${Math.round(x0)}</text>`,
    `<text x="${sx(x1)}" y="${H - B + 14}" font-size="10" text-anchor="end">${Math.round(x1)}</text>`,
    `<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${esc(s.xLabel)}</text>`,
    `<text x="12" y="${(T + H - B) / 2}" font-size="11" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${esc(s.yLabel)}</text>`,
  ];
  for (const m of s.marks ?? []) {
    parts.push(
      `<line x1="${L}" y1="${sy(m.y)}" x2="${W - R}" y2="${sy(m.y)}" stroke="#888" stroke-dasharray="4 3"/>`,
      `<text x="${W - R}" y="${sy(m.y) - 3}" font-size="10" text-anchor="end" fill="#555">${esc(m.name)}</text>`,
    );
  }
  s.lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.kind === 'points') {
      for (const [x, y] of line.points)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`);
    } else if (s.kind === 'bars') {
      const bw = Math.max(1, (W - L - R) / Math.max(1, line.points.length) / s.lines.length);
      for (const [x, y] of line.points)
        parts.push(
          `<rect x="${(sx(x) + i * bw).toFixed(1)}" y="${sy(y).toFixed(1)}" width="${bw.toFixed(1)}" height="${(sy(0) - sy(y)).toFixed(1)}" fill="${color}" opacity="0.8"/>`,
        );
    } else if (line.points.length > 0) {
      const d = line.points
        .map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`)
        .join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    }
    parts.push(
      `<rect x="${W - R - 200}" y="${T + i * 14}" width="10" height="10" fill="${color}"/>`,
      `<text x="${W - R - 186}" y="${T + 9 + i * 14}" font-size="10">${esc(line.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function renderHtml(report: LabReport): string {
  const mark = (c: Check) =>
    `<td class="${c.ok ? 'ok' : 'bad'}" title="${esc(c.detail)}">${c.ok ? '✓' : '✗'}</td>`;
  const rows = report.drills
    .map(
      (d) =>
        `<tr><td>${esc(d.name)}</td>${mark(d.symptom)}${mark(d.detected)}${mark(d.mitigated)}<td>${esc(d.figure)}</td><td>${d.passes}/${d.runs}</td></tr>`,
    )
    .join('\n');
  const sections = report.drills
    .map(
      (d) => `<section><h2>${esc(d.title)} <small>(${esc(d.name)})</small></h2>
${d.skipped ? `<p>skipped: ${esc(d.skipped)}</p>` : `<ul><li>symptom: ${esc(d.symptom.detail)}</li><li>detected: ${esc(d.detected.detail)}</li><li>mitigated: ${esc(d.mitigated.detail)}</li></ul>`}
${d.service ? `<p><b>What your service did:</b> ${esc(d.service.did)}</p>${d.service.change ? `<p><b>What to change:</b> ${esc(d.service.change)}</p>` : ''}` : ''}
${d.series.map((s) => `<figure>${renderSvg(s)}</figure>`).join('\n')}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>socketlens lab report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}.ok{color:#2a2}.bad{color:#c22;font-weight:bold}figure{margin:1em 0}</style>
</head><body>
<h1>socketlens lab report</h1>
${report.target ? `<p>target: ${esc(report.target)}</p>` : ''}
<p>${esc(report.startedAt)} · env ${esc(report.env)} · ${report.runsPerDrill} run(s) per drill · ${report.passed ? 'all passed' : 'FAILED'}</p>
<table><tr><th>drill</th><th>symptom</th><th>detected</th><th>mitigated</th><th>key figure</th><th>runs</th></tr>
${rows}</table>
${sections}
</body></html>
`;
}

export function writeReport(report: LabReport, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtml(report));
  return { json, html };
}
