// The CPU gate of the relay's hot path: the sidecar and the plain Node pipe run side by side
// under the same open-loop echo load, and the sidecar's CPU time per message must stay within
// 15% of the pipe's (median of 7 paired rounds). A hot-path regression fails it; a loaded
// machine does not, because both proxies are measured over the same window.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const gateJs = fileURLToPath(new URL('../../bench/gate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'socketlens-gate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('sidecar CPU per message ≤ 1.15× the plain pipe, side by side', { timeout: 150_000 }, () => {
  const json = join(dir, 'gate.json');
  const r = spawnSync(process.execPath, [gateJs, '--rounds', '7', '--seconds', '2.5', '--json', json], {
    encoding: 'utf8',
    timeout: 140_000,
  });
  process.stderr.write(r.stdout);
  const res = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(res.ratios.length, 7);
  for (const round of res.rounds) {
    assert.ok(round.sidecarMsgs > 1000 && round.pipeMsgs > 1000, JSON.stringify(round));
    // Same offered load through both (open loop): the counts differ only by in-flight messages.
    assert.ok(Math.abs(round.sidecarMsgs - round.pipeMsgs) < 0.1 * round.pipeMsgs, JSON.stringify(round));
  }
  assert.equal(r.status, res.pass ? 0 : 1, r.stderr);
  assert.ok(
    res.pass,
    `sidecar/pipe CPU per message ${res.medianRatio.toFixed(3)} > ${res.maxRatio}\n${r.stderr}`,
  );
});
