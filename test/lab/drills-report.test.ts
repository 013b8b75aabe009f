import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DrillResult } from '../../lab/drills/types.js';
import { buildReport, scorecard, writeReport } from '../../lab/report/render.js';

const result = (ok: boolean): DrillResult => ({
  symptom: { ok: true, detail: 's' },
  detected: { ok, detail: 'd' },
  mitigated: { ok: true, detail: 'm' },
  figure: '42 ms',
  series: [
    {
      id: 'a',
      title: 'A <chart>',
      xLabel: 'x',
      yLabel: 'y',
      kind: 'bars',
      lines: [
        {
          name: 'l',
          points: [
            [0, 1],
            [100, 3],
          ],
        },
      ],
    },
    {
      id: 'b',
      title: 'B',
      xLabel: 'x',
      yLabel: 'y',
      kind: 'line',
      lines: [{ name: 'l', points: [[0, 1]] }],
      marks: [{ name: 'T', y: 2 }],
    },
  ],
});

test('report: JSON structure, scorecard marks, one <svg> per chart', () => {
  const report = buildReport(
    [
      { name: 'good', title: 'Good', runs: [result(true), result(true)], durationsMs: [1, 2] },
      { name: 'flaky', title: 'Flaky', runs: [result(true), result(false)], durationsMs: [1, 2] },
    ],
    'native',
    2,
    new Date(0),
  );
  assert.equal(report.passed, false);
  assert.deepEqual(
    report.drills.map((d) => [d.name, d.passed, d.passes, d.detected.ok]),
    [
      ['good', true, 2, true],
      ['flaky', false, 1, false],
    ],
  );
  const card = scorecard(report);
  assert.equal(card.split('\n')[0], 'socketlens lab · env native · 2 run(s) per drill');
  assert.match(card, /good \(2\/2\)\s+│ ✓\s+│ ✓\s+│ ✓\s+│ 42 ms/);
  assert.match(card, /flaky \(1\/2\)\s+│ ✓\s+│ ✗/);
  const dir = mkdtempSync(join(tmpdir(), 'lab-report-'));
  const files = writeReport(report, dir);
  const json = JSON.parse(readFileSync(files.json, 'utf8'));
  assert.equal(json.env, 'native');
  assert.equal(json.drills.length, 2);
  for (const key of ['symptom', 'detected', 'mitigated'])
    assert.equal(typeof json.drills[0][key].ok, 'boolean');
  const html = readFileSync(files.html, 'utf8');
  assert.equal(html.match(/<svg /g)?.length, 4);
  assert.ok(!html.includes('<chart>'), 'titles are escaped');
  assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(html), 'no external resources');
});
