/**
 * The drills that make sense against a service the lab did not write, in the order they run.
 * Each is bound to the target and handed to the same runner, scorecard and report as the demo drills.
 */
import type { Drill } from '../drills/types.js';
import { drill as frameFaults } from './frame-faults.js';
import { drill as halfOpen } from './half-open.js';
import { drill as idleTimeout } from './idle-timeout.js';
import { drill as reconnectStorm } from './reconnect-storm.js';
import { drill as rollingDrain } from './rolling-drain.js';
import { drill as slowConsumer } from './slow-consumer.js';
import type { TargetDrill, TargetSpec } from './types.js';
import { drill as upgradeStripped } from './upgrade-stripped.js';

export const TARGET_DRILLS: readonly TargetDrill[] = [
  upgradeStripped,
  halfOpen,
  idleTimeout,
  reconnectStorm,
  slowConsumer,
  frameFaults,
  rollingDrain,
];

export function targetDrills(target: TargetSpec): Drill[] {
  return TARGET_DRILLS.map((d) => ({ name: d.name, title: d.title, run: (env, o) => d.run(env, target, o) }));
}
