/** Every drill, in the order the lab runs them. */
import { drill as crossNode } from './cross-node-broadcast.js';
import { drill as fallbackLadder } from './fallback-ladder.js';
import { drill as halfOpen } from './half-open.js';
import { drill as idleTimeout } from './idle-timeout.js';
import { drill as reconnectStorm } from './reconnect-storm.js';
import { drill as rejectedUpgrade } from './rejected-upgrade.js';
import { drill as rollingDeploy } from './rolling-deploy.js';
import { drill as slowConsumer } from './slow-consumer.js';
import { drill as slowHandshake } from './slow-handshake.js';
import { drill as socketioUpgrade } from './socketio-upgrade.js';
import type { Drill } from './types.js';
import { drill as upgradeStripped } from './upgrade-stripped.js';

export const DRILLS: readonly Drill[] = [
  upgradeStripped,
  halfOpen,
  idleTimeout,
  reconnectStorm,
  slowConsumer,
  slowHandshake,
  rejectedUpgrade,
  crossNode,
  fallbackLadder,
  rollingDeploy,
  socketioUpgrade,
];
