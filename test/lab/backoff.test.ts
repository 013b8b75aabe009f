import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BackoffOptions, createBackoff, seededRandom } from '../../lab/client/backoff.js';

const DRAWS = 20_000;

/** Draws the n-th delay (0-based) many times, each from a fresh backoff at that step. */
function drawsAtStep(opts: Omit<BackoffOptions, 'random'>, step: number, seed: number): number[] {
  const random = seededRandom(seed);
  const b = createBackoff({ ...opts, random });
  const out: number[] = [];
  for (let i = 0; i < DRAWS; i++) {
    b.reset();
    for (let k = 0; k < step; k++) b.next();
    out.push(b.next()!);
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('createBackoff', () => {
  test('fixed answers base every time, then null after maxRetries', () => {
    const b = createBackoff({ strategy: 'fixed', baseMs: 250, capMs: 1000, maxRetries: 3 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [250, 250, 250, null, null]);
    assert.equal(b.attempts, 3);
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 250);
  });

  test('exponential doubles from base and stops at cap', () => {
    const b = createBackoff({ strategy: 'exponential', baseMs: 100, capMs: 1000, maxRetries: 7 });
    const seq = Array.from({ length: 8 }, () => b.next());
    assert.deepEqual(seq, [100, 200, 400, 800, 1000, 1000, 1000, null]);
  });

  test('exponential stays at cap for huge step counts (no Infinity/NaN)', () => {
    const b = createBackoff({ strategy: 'exponential', baseMs: 100, capMs: 5000, maxRetries: 5000 });
    let last = 0;
    for (let i = 0; i < 5000; i++) last = b.next()!;
    assert.equal(last, 5000);
    const zero = createBackoff({ strategy: 'exponential', baseMs: 0, capMs: 0, maxRetries: 2000 });
    for (let i = 0; i < 1999; i++) zero.next();
    assert.equal(zero.next(), 0);
  });

  test('maxRetries 0 gives up at once', () => {
    const b = createBackoff({ strategy: 'full', baseMs: 10, capMs: 100, maxRetries: 0 });
    assert.equal(b.next(), null);
  });

  test('full jitter: uniform on [0, t), mean t/2 within 2%', () => {
    const opts = { strategy: 'full', baseMs: 100, capMs: 10_000, maxRetries: 20 } as const;
    for (const [step, t] of [
      [0, 100],
      [3, 800],
      [10, 10_000], // 100 * 2^10 is over the cap
    ] as const) {
      const xs = drawsAtStep(opts, step, 42 + step);
      assert.ok(Math.min(...xs) >= 0, 'no negative delay');
      assert.ok(Math.max(...xs) < t, `max below t=${t}`);
      const m = mean(xs);
      assert.ok(Math.abs(m - t / 2) < 0.02 * t, `mean ${m} should be ${t / 2} ± 2%`);
    }
  });

  test('equal jitter: on [t/2, t), mean 3t/4 within 2%', () => {
    const opts = { strategy: 'equal', baseMs: 100, capMs: 3000, maxRetries: 20 } as const;
    for (const [step, t] of [
      [0, 100],
      [4, 1600],
      [8, 3000],
    ] as const) {
      const xs = drawsAtStep(opts, step, 7 + step);
      assert.ok(Math.min(...xs) >= t / 2, `min at least t/2=${t / 2}`);
      assert.ok(Math.max(...xs) < t, `max below t=${t}`);
      const m = mean(xs);
      assert.ok(Math.abs(m - (3 * t) / 4) < 0.02 * t, `mean ${m} should be ${(3 * t) / 4} ± 2%`);
    }
  });

  test('decorrelated: each delay within [base, min(cap, prev*3)], cap respected', () => {
    const base = 50;
    const cap = 2000;
    const b = createBackoff({
      strategy: 'decorrelated',
      baseMs: base,
      capMs: cap,
      maxRetries: DRAWS,
      random: seededRandom(1),
    });
    let prev = base;
    let hitCap = 0;
    for (let i = 0; i < DRAWS; i++) {
      const d = b.next()!;
      assert.ok(d >= base, `draw ${i}: ${d} >= base`);
      assert.ok(d <= Math.min(cap, prev * 3), `draw ${i}: ${d} <= min(cap, ${prev}*3)`);
      if (d === cap) hitCap += 1;
      prev = d;
    }
    assert.equal(b.next(), null);
    assert.ok(hitCap > 0, 'a long run reaches the cap');
    // After reset the first draw is again within [base, 3*base].
    b.reset();
    const first = b.next()!;
    assert.ok(first >= base && first <= 3 * base);
  });

  test('decorrelated first draw has mean 2*base (uniform on [base, 3*base)) within 2%', () => {
    const xs = drawsAtStep({ strategy: 'decorrelated', baseMs: 100, capMs: 100_000, maxRetries: 5 }, 0, 99);
    assert.ok(Math.abs(mean(xs) - 200) < 4, `mean ${mean(xs)}`);
  });

  test('the same seed replays the same delays', () => {
    const run = () => {
      const b = createBackoff({
        strategy: 'full',
        baseMs: 100,
        capMs: 5000,
        maxRetries: 10,
        random: seededRandom(123),
      });
      return Array.from({ length: 10 }, () => b.next());
    };
    assert.deepEqual(run(), run());
  });

  test('bad options throw coded errors', () => {
    const bad: BackoffOptions[] = [
      { strategy: 'linear' as 'full', baseMs: 1, capMs: 2, maxRetries: 1 },
      { strategy: 'full', baseMs: -1, capMs: 2, maxRetries: 1 },
      { strategy: 'full', baseMs: 10, capMs: 5, maxRetries: 1 },
      { strategy: 'full', baseMs: 1, capMs: 2, maxRetries: 1.5 },
    ];
    for (const opts of bad) assert.throws(() => createBackoff(opts), { code: 'SL_CLIENT_BACKOFF_OPTIONS' });
    assert.equal(createBackoff({ strategy: 'fixed', baseMs: 1, capMs: 1, maxRetries: Infinity }).next(), 1);
  });
});
