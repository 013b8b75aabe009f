/**
 * `lab --target` against a Socket.IO 4 app (socket.io, not written by this project) over its
 * engine.io WebSocket endpoint. Its heartbeat is engine.io ping/pong packets: the drills' client
 * answers them as any Socket.IO client does, and the service must notice a vanished one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NativeEnvironment } from '../../../lab/env/native.js';
import { runLab } from '../../../lab/lab.js';
import { assertRollingDrain } from './drain-assert.js';
import { type SocketIoApp, startSocketIoApp } from './socketio-app.js';

describe('lab --target against a Socket.IO 4 app', { timeout: 120_000 }, () => {
  let env: NativeEnvironment;
  let app: SocketIoApp;
  before(async () => {
    env = new NativeEnvironment();
    app = await startSocketIoApp(1000, 1000);
  });
  after(async () => {
    await app.close();
    await env.close();
  });

  it('notices a half-open client through its engine.io heartbeat, and keeps quiet clients through an idle hop', async () => {
    const url = new URL(`http://127.0.0.1:${app.port}`);
    const { report } = await runLab({
      env,
      reportDir: null,
      progress: () => {},
      drills: ['half-open', 'idle-timeout', 'upgrade-stripped', 'frame-faults', 'rolling-drain'],
      target: {
        url,
        address: url.host,
        wsPath: '/socket.io/?EIO=4&transport=websocket',
        ssePath: null,
        pollPath: null,
        message: null,
        zombieWindowMs: 5000,
        idleTimeoutMs: 2000,
      },
    });
    const d = (name: string) => report.drills.find((x) => x.name === name)!;
    const half = d('half-open');
    assert.equal(half.passed, true, half.mitigated.detail);
    const ended = half.data!.endedAtMs as number;
    // pingInterval + pingTimeout = 2 s after the last pong.
    assert.ok(ended >= 900 && ended <= 3500, `noticed after ${ended} ms`);
    const idle = d('idle-timeout');
    assert.equal(idle.passed, true, idle.mitigated.detail);
    assert.ok((idle.data!.pings as number) >= 4);
    const stripped = d('upgrade-stripped');
    assert.equal(stripped.data!.status, 400);
    assert.equal(stripped.passed, true);
    assert.equal(d('frame-faults').passed, true, d('frame-faults').mitigated.detail);
    // Socket.IO clients reconnect (a new engine.io session over WebSocket, CONNECT again) after a drain.
    assertRollingDrain(d('rolling-drain'));
  });
});
