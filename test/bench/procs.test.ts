import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { canPin, groupPreemptions, pin } from '../../bench/lib/procs.js';

/** A Node child that runs `code` after writing one byte, so the parent knows it has started. */
async function child(code: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', `process.stdout.write('r', () => { ${code} });`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await once(c.stdout!, 'data');
  return c;
}

test('groupPreemptions counts preemptions: two busy processes on one core take it from each other, a sleeping one is not preempted', {
  skip: canPin() ? false : 'taskset is not available',
}, async () => {
  const all = await Promise.all([
    child('const end = Date.now() + 2000; while (Date.now() < end);'),
    child('const end = Date.now() + 2000; while (Date.now() < end);'),
    child('setTimeout(() => {}, 2000);'),
  ]);
  try {
    for (const c of all) pin(c.pid!, '0');
    await sleep(200); // the sleeper's start-up work (compiling on background threads) is done
    const before = all.map((c) => groupPreemptions([c.pid!]));
    await sleep(800);
    const [busyA, busyB, idle] = all.map((c, i) => groupPreemptions([c.pid!]) - before[i]!);
    // The scheduler's slice is a few ms: two busy loops sharing one core for 800 ms swap
    // hundreds of times. A process asleep in its timer is not running, so it is not preempted.
    assert.ok(busyA! >= 20 && busyB! >= 20, `busy: ${busyA}, ${busyB}`);
    assert.ok(idle! <= 2, `idle: ${idle}`);
  } finally {
    for (const c of all) c.kill();
    await Promise.all(
      all.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)),
    );
  }
});
