/**
 * `lab --target` against a service this project did not write: a Python `websockets` echo server
 * (pinned in .ci/install-deps.sh), once without a heartbeat and once with its keepalive on. The
 * service without a heartbeat must fail the half-open drill, the one with it must pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NativeEnvironment } from '../../../lab/env/native.js';
import { runLab } from '../../../lab/lab.js';
import type { LabReport } from '../../../lab/report/render.js';
import type { TargetSpec } from '../../../lab/target/types.js';
import { assertRollingDrain } from './drain-assert.js';
import { startPythonBackend } from './python-backend.js';

function spec(url: string): TargetSpec {
  const u = new URL(url);
  return {
    url: u,
    address: u.host,
    wsPath: '/',
    ssePath: null,
    pollPath: null,
    message: null,
    zombieWindowMs: 4000,
    idleTimeoutMs: 2000,
  };
}

const drill = (r: LabReport, name: string) => r.drills.find((d) => d.name === name)!;

describe('lab --target against Python websockets', { timeout: 240_000 }, () => {
  let env: NativeEnvironment;
  before(() => {
    env = new NativeEnvironment();
  });
  after(() => env.close());

  it('without a heartbeat: fails half-open and idle-timeout, and names the fix', async () => {
    const py = await startPythonBackend(null);
    try {
      const { report, scorecard } = await runLab({
        target: spec(py.url),
        env,
        reportDir: null,
        progress: () => {},
      });
      assert.equal(report.target, `${py.url}/`);
      assert.equal(report.passed, false);
      const half = drill(report, 'half-open');
      assert.equal(half.passed, false);
      assert.equal(
        half.service!.did,
        'it still held the connection 4.0 s after the client vanished, and sent no ping: it never notices',
      );
      assert.match(half.service!.change!, /ping_interval=20, ping_timeout=20/);
      const idle = drill(report, 'idle-timeout');
      assert.equal(idle.passed, false);
      const cut = idle.data!.cutAfterMs as number;
      assert.ok(cut >= 1800 && cut <= 2700, `cut after ${cut} ms`);
      assert.equal(idle.data!.pings, 0);
      const stripped = drill(report, 'upgrade-stripped');
      assert.equal(stripped.passed, true);
      assert.equal(stripped.data!.status, 426);
      assert.equal(drill(report, 'frame-faults').passed, false);
      assertRollingDrain(drill(report, 'rolling-drain'));
      assert.equal(drill(report, 'reconnect-storm').symptom.ok, true);
      assert.equal(drill(report, 'slow-consumer').data!.shed, false);
      assert.match(scorecard, /✗ half-open: what your service did: it still held the connection/);
      assert.match(scorecard, / {6}what to change: ping every client/);
    } finally {
      await py.stop();
    }
  });

  it('with its keepalive (1 s): passes half-open, idle-timeout and the frame faults', async () => {
    const py = await startPythonBackend(1);
    try {
      const { report } = await runLab({
        target: spec(py.url),
        env,
        reportDir: null,
        progress: () => {},
        drills: ['half-open', 'idle-timeout', 'frame-faults'],
      });
      const half = drill(report, 'half-open');
      assert.equal(half.passed, true, half.mitigated.detail);
      assert.match(
        half.service!.did,
        /^it noticed the zombie after \d\.\d s and closed it \((close frame 1011|close 1011, server_close)\)/,
      );
      assert.equal(half.service!.change, null);
      const ended = half.data!.endedAtMs as number;
      assert.ok(ended >= 900 && ended <= 3500, `noticed after ${ended} ms`);
      assert.equal(drill(report, 'idle-timeout').passed, true);
      assert.equal(drill(report, 'frame-faults').passed, true);
    } finally {
      await py.stop();
    }
  });
});
