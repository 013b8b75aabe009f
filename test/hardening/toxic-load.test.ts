/**
 * CI-sized load with network faults: 200 WebSocket clients through Toxiproxy (latency + jitter
 * both ways, reset_peer on ~10% of handshakes and on ~10% of connections mid-stream) and a
 * sidecar child process to an echo backend. No echo may be lost or reordered on a connection that
 * stays up, and the sidecar must account for every connection and return to its fd baseline.
 * The long version (2,000 connections) is long/toxic-load.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runToxicLoad } from './lib/toxic-load.js';

const CONNECTIONS = 200;
const MESSAGES = 10;

describe('load through Toxiproxy with latency, jitter and resets', () => {
  it('loses and reorders nothing on the connections that stay up; the sidecar accounts for all', async () => {
    const r = await runToxicLoad({
      connections: CONNECTIONS,
      messagesPerConnection: MESSAGES,
      sendIntervalMs: 100,
      connectConcurrency: 50,
      latencyMs: 20,
      jitterMs: 15,
      handshakeResetToxicity: 0.1,
      midResetToxicity: 0.1,
      midResetAfterMs: 100,
    });
    process.stderr.write(
      `toxic-load: ${r.kept} kept, ${r.resetBeforeOpen} reset before open, ${r.resetAfterOpen} reset after open, ` +
        `${r.messagesChecked} echoes checked, ${r.seconds} s\n`,
    );
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.otherOpenFailures, []);
    assert.equal(r.kept + r.resetBeforeOpen + r.resetAfterOpen, CONNECTIONS);
    // ~10% each; P(none) is below 1e-9 at 200 connections.
    assert.ok(r.resetBeforeOpen > 0 && r.resetAfterOpen > 0, 'both reset toxics fired');
    assert.ok(r.kept >= CONNECTIONS * 0.6, `kept ${r.kept}`);
    assert.ok(r.messagesChecked >= r.kept * MESSAGES);
    // Every upgrade reached the sidecar (the handshake reset swallows the 101 after it).
    assert.equal(r.sidecar.wsConnectionsOpened, CONNECTIONS);
    assert.equal(r.sidecar.wsConnectionsActive, 0);
    assert.equal(r.sidecar.closeLogLines, CONNECTIONS);
    const { client_close: clean = 0, ...others } = r.sidecar.reasons;
    assert.equal(clean, r.kept);
    for (const reason of Object.keys(others))
      assert.ok(['client_error', 'client_disconnect'].includes(reason), `reason ${reason}`);
    assert.equal(
      Object.values(others).reduce((a, b) => a + b, 0),
      r.resetBeforeOpen + r.resetAfterOpen,
    );
    assert.equal(r.sidecar.fds.final, r.sidecar.fds.baseline);
    assert.equal(r.backendOpenSockets, 0);
  });
});
