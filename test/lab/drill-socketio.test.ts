// The socketio-upgrade drill natively (a real Socket.IO 4 app, real socket.io-client clients,
// the lab's real nginx edge): exact counts from the sidecar's close log and metrics. Under compose
// the same drill runs against backend-K started with --app socketio (test/compose/engine.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SOCKETIO_CHATS, SOCKETIO_CLIENTS } from '../../lab/drills/socketio-upgrade.js';
import { runLab } from '../../lab/lab.js';

describe('lab drill socketio-upgrade', { timeout: 120_000 }, () => {
  it('natively: 3 sessions stuck on ["polling"] through /stripped/, 3 on ["polling","websocket"] through /', async () => {
    const lines: string[] = [];
    const { report } = await runLab({
      drills: ['socketio-upgrade'],
      reportDir: null,
      progress: (l) => lines.push(l),
    });
    const d = report.drills[0]!;
    assert.equal(d.passes, 1, lines.join('\n'));
    assert.equal(SOCKETIO_CLIENTS, 3);
    assert.equal(d.figure, 'stripped: 3/3 on polling; healthy: 3/3 upgraded');
    assert.equal(
      d.detected.detail,
      'close log: 3 session(s) transports ["polling"]; engineio_sessions_total{transports="polling"} = 3',
    );
    assert.equal(
      d.mitigated.detail,
      `via / : 3 session(s) ["polling","websocket"], {transports="polling,websocket"} = 3; ${2 * SOCKETIO_CLIENTS * SOCKETIO_CHATS} chats acknowledged`,
    );
    assert.deepEqual(d.data, {
      pollingOnly: 3,
      upgraded: 3,
      engineLines: 6,
      pollingMetric: 3,
      upgradedMetric: 3,
      // Each stripped client tried the upgrade once; the sidecar saw the key without Upgrade.
      stripFailures: 3,
      acks: 12,
      appClosedOn: ['polling', 'polling', 'polling', 'websocket', 'websocket', 'websocket'],
    });
  });
});
