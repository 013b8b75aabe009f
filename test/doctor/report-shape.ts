/** The documented --json shape, and helpers to read a parsed report in tests. */
import assert from 'node:assert/strict';
import type { Check, CheckId, DoctorReport } from '../../doctor/report.js';

export const CHECK_IDS: readonly CheckId[] = [
  'dns',
  'tcp',
  'tls',
  'ws.upgrade',
  'ws.accept',
  'ws.negotiation',
  'ws.roundtrip',
  'ws.idle',
  'ws.keepalive',
  'sse',
  'poll',
  'eio.open',
  'eio.upgrade',
];

/** Parses stdout as one JSON report and checks every documented field is there. */
export function parseReport(stdout: string): DoctorReport {
  const report = JSON.parse(stdout) as DoctorReport;
  assert.deepEqual(Object.keys(report).sort(), [
    'checks',
    'durationMs',
    'exitCode',
    'startedAt',
    'url',
    'verdict',
  ]);
  assert.deepEqual(
    report.checks.map((c) => c.id),
    CHECK_IDS,
  );
  for (const c of report.checks) {
    assert.deepEqual(Object.keys(c).sort(), ['data', 'durationMs', 'id', 'status', 'summary', 'title'], c.id);
    assert.ok(['ok', 'warn', 'fail', 'skip'].includes(c.status), `${c.id}: status ${c.status}`);
  }
  assert.deepEqual(Object.keys(report.verdict).sort(), ['fixes', 'healthy', 'summary', 'transport']);
  for (const f of report.verdict.fixes)
    assert.deepEqual(Object.keys(f).sort(), ['advice', 'lines', 'problem', 'severity']);
  assert.equal(typeof report.durationMs, 'number');
  assert.equal(Number.isNaN(Date.parse(report.startedAt)), false);
  return report;
}

export function checkOf(report: DoctorReport, id: CheckId): Check {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

export function fixOf(report: DoctorReport, problem: string) {
  const f = report.verdict.fixes.find((x) => x.problem === problem);
  assert.ok(f, `no fix ${problem} in ${report.verdict.fixes.map((x) => x.problem).join(', ')}`);
  return f;
}
