/** What the rolling-drain target drill tells a team to change, from what its clients did. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Phase, whatToChange } from '../../../lab/target/rolling-drain.js';

const phase = (p: Partial<Phase>): Phase => ({
  windowMs: 0,
  held: 50,
  drainedCloses: 50,
  reopens: 50,
  peak: 10,
  recoverMs: 700,
  open: 100,
  gaveUp: 0,
  refused: [],
  points: [],
  ...p,
});

describe('rolling-drain: what to change', () => {
  it('nothing when every client came back both times', () => {
    assert.deepEqual(whatToChange(phase({}), phase({ windowMs: 5000 })), []);
  });

  it('clients that gave up: the client backoff', () => {
    const c = whatToChange(phase({ gaveUp: 3, recoverMs: null, open: 97 }), phase({}));
    assert.equal(c.length, 2);
    assert.match(c[0]!, /^clients must keep retrying through a rollout: full-jitter exponential backoff/);
    assert.match(c[1]!, /^drain staggered, not all at once: .*--drain-window 15s/);
  });

  it('reconnects refused by the service: accept them, with Retry-After', () => {
    const c = whatToChange(
      phase({ refused: [503, 503], recoverMs: null, open: 90 }),
      phase({ refused: [503] }),
    );
    assert.match(c[0]!, /^accept the reconnects of a drained replica/);
    assert.match(c[1]!, /^drain staggered/);
  });

  it('slow to come back with nothing refused: spread and stagger', () => {
    const c = whatToChange(phase({ recoverMs: null, open: 99 }), phase({ recoverMs: null, open: 99 }));
    assert.deepEqual(c, [
      'take every client back within 15.0 s: spread reconnects with full-jitter backoff and drain over a window (socketlens --drain-window)',
    ]);
  });
});
