// The staggered closer on virtual time: where the closes fall, in which order, and what flush()
// and cancel() leave behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickShare, StaggeredClose, staggerOffsets } from '../../proxy/connections/drain.js';
import { seededRandom } from '../../lab/client/backoff.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

describe('staggerOffsets', () => {
  it('puts one close in each equal slot of the window', () => {
    const offsets = staggerOffsets(100, 10_000, seededRandom(7));
    assert.equal(offsets.length, 100);
    offsets.forEach((t, i) => {
      assert.ok(t >= i * 100 && t < (i + 1) * 100, `close ${i} at ${t} is outside its slot`);
    });
  });

  it('puts every close at 0 for a window of 0 (all at once)', () => {
    assert.deepEqual(
      staggerOffsets(3, 0, () => 0.5),
      [0, 0, 0],
    );
  });

  it('puts the closes at the start, middle or end of their slots as random() says', () => {
    assert.deepEqual(
      staggerOffsets(4, 1000, () => 0),
      [0, 250, 500, 750],
    );
    assert.deepEqual(
      staggerOffsets(2, 1000, () => 0.5),
      [250, 750],
    );
  });
});

describe('pickShare', () => {
  it('picks ⌈share·n⌉ distinct items', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const picked = pickShare(items, 0.25, seededRandom(3));
    assert.equal(picked.length, 3);
    assert.equal(new Set(picked).size, 3);
    for (const p of picked) assert.ok(items.includes(p));
    assert.equal(pickShare(items, 1, seededRandom(3)).length, 10);
    assert.equal(pickShare(items, 0, seededRandom(3)).length, 0);
  });
});

describe('StaggeredClose', () => {
  it('closes each target once, spread evenly over the window, with one timer at a time', () => {
    const clock = new VirtualClock();
    const closedAt = new Map<number, number>();
    const progress: Array<[number, number]> = [];
    const targets = Array.from({ length: 50 }, (_, i) => i);
    const s = new StaggeredClose({
      targets,
      windowMs: 5000,
      clock,
      random: seededRandom(11),
      close: (t) => {
        assert.ok(!closedAt.has(t), `target ${t} closed twice`);
        closedAt.set(t, clock.now());
        return true;
      },
      onProgress: (closed, remaining) => progress.push([closed, remaining]),
    });
    assert.equal(clock.timers, 1);
    // 50 slots of 100 ms: exactly 10 closes in each second of the window.
    for (let second = 1; second <= 5; second++) {
      clock.advance(1000);
      assert.equal(closedAt.size, second * 10, `after ${second} s`);
      assert.ok(clock.timers <= 1);
    }
    assert.equal(s.state, 'done');
    assert.equal(s.closed, 50);
    assert.equal(s.remaining, 0);
    assert.equal(clock.timers, 0);
    assert.deepEqual(progress.at(-1), [50, 0]);
    // The order is shuffled: not the order the targets were given in.
    const order = [...closedAt.keys()];
    assert.notDeepEqual(order, targets);
  });

  it('closes everything at once for a window of 0', () => {
    const clock = new VirtualClock();
    let closed = 0;
    const s = new StaggeredClose({
      targets: [1, 2, 3],
      windowMs: 0,
      clock,
      random: Math.random,
      close: () => {
        closed++;
        return true;
      },
    });
    assert.equal(closed, 3);
    assert.equal(s.state, 'done');
  });

  it('counts targets that went away on their own as skipped', async () => {
    const clock = new VirtualClock();
    const s = new StaggeredClose({
      targets: [1, 2, 3, 4],
      windowMs: 400,
      clock,
      random: () => 0,
      close: (t) => t % 2 === 0,
    });
    clock.advance(400);
    await s.finished;
    assert.deepEqual([s.closed, s.skipped], [2, 2]);
  });

  it('flush() closes the rest now; cancel() leaves the rest open', () => {
    for (const how of ['flush', 'cancel'] as const) {
      const clock = new VirtualClock();
      let closed = 0;
      const s = new StaggeredClose({
        targets: Array.from({ length: 10 }, (_, i) => i),
        windowMs: 1000,
        clock,
        random: () => 0,
        close: () => {
          closed++;
          return true;
        },
      });
      clock.advance(250); // slots at 0, 100, 200 have closed
      assert.equal(closed, 3);
      s[how]();
      assert.equal(closed, how === 'flush' ? 10 : 3);
      assert.equal(s.state, how === 'flush' ? 'done' : 'cancelled');
      assert.equal(clock.timers, 0);
      clock.advance(5000);
      assert.equal(closed, how === 'flush' ? 10 : 3);
    }
  });
});
