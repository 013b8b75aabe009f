/** What the rolling-drain target drill must show against a healthy service (both foreign backends). */
import assert from 'node:assert/strict';
import type { LabReport } from '../../../lab/report/render.js';
import type { Phase } from '../../../lab/target/rolling-drain.js';

/** The data keep every field of a phase but its chart points. */
type DrainPhase = Omit<Phase, 'points'>;

/** The rolling drain: every client of the drained sidecar came back, the staggered drain spread them. */
export function assertRollingDrain(d: LabReport['drills'][number]): void {
  assert.equal(d.passed, true, d.mitigated.detail);
  assert.equal(d.service!.change, null);
  const atOnce = d.data!.atOnce as DrainPhase;
  const staggered = d.data!.staggered as DrainPhase;
  for (const p of [atOnce, staggered]) {
    // HAProxy's round robin puts half of the 100 clients on each sidecar.
    assert.ok(p.held >= 40 && p.held <= 60, `held ${p.held}`);
    assert.equal(p.drainedCloses, p.held);
    assert.equal(p.reopens, p.held);
    assert.equal(p.open, 100);
    assert.equal(p.gaveUp, 0);
    assert.deepEqual(p.refused, []);
    assert.ok(p.recoverMs !== null && p.recoverMs > 0);
  }
  // Full jitter (base 500 ms) spreads the at-once drain's reconnects over about 0.5 s; the
  // staggered drain spreads them over its 5 s window.
  assert.ok(atOnce.recoverMs! < 3000, `at once: back in ${atOnce.recoverMs} ms`);
  assert.ok(staggered.recoverMs! >= 4000, `staggered: back in ${staggered.recoverMs} ms`);
  assert.ok(staggered.peak < atOnce.peak, `peak ${staggered.peak} (staggered) vs ${atOnce.peak} (at once)`);
  assert.match(
    d.service!.did,
    /^drained at once: \d+ closed, peak \d+ reconnects per 100 ms, all 100 open again/,
  );
}
