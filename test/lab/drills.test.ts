import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRILLS } from '../../lab/drills/index.js';
import { runLab } from '../../lab/lab.js';

test('lab: each drill reproduces, detects and mitigates its failure', { timeout: 360_000 }, async () => {
  const drills = DRILLS.map((d) => d.name);
  const lines: string[] = [];
  const { report } = await runLab({ drills, reportDir: null, progress: (l) => lines.push(l) });
  assert.equal(report.drills.length, drills.length);
  for (const d of report.drills) {
    for (const key of ['symptom', 'detected', 'mitigated'] as const) {
      assert.ok(d[key].ok, `${d.name} ${key}: ${d[key].detail}\n${lines.join('\n')}`);
    }
  }
});
