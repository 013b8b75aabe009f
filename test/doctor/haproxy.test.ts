// `socketlens doctor --idle-probe` through the lab's real HAProxy idle hop (an ALB stand-in):
// the quiet connection's cut is measured, and pings are shown to keep a connection alive.
import { seconds } from '../../doctor/verdict.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HaproxyHop, startHaproxy } from '../../lab/runner/components/haproxy.js';
import { type DoctorBackend, startDoctorBackend } from './backend.js';
import { checkOf, fixOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

const IDLE_MS = 2000;

describe('doctor through the HAProxy idle hop', { timeout: 30_000 }, () => {
  let backend: DoctorBackend;
  let hop: HaproxyHop;

  before(async () => {
    backend = await startDoctorBackend();
    hop = await startHaproxy({ upstream: backend.address, idleTimeoutMs: IDLE_MS });
  });

  after(async () => {
    await hop?.stop();
    await backend?.close();
  });

  it('measures the idle cut within 10% and shows that pings keep the connection alive', async (t) => {
    const r = await runDoctorCli(
      [`ws://127.0.0.1:${hop.port}/ws`, '--json', '--idle-probe', '6s', '--sse', 'none', '--poll', 'none'],
      25_000,
    );
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.equal(checkOf(report, 'tls').status, 'skip');
    assert.equal(checkOf(report, 'ws.roundtrip').status, 'ok');

    const idle = checkOf(report, 'ws.idle');
    const measured = idle.data.idleTimeoutMs as number;
    t.diagnostic(`idle cut measured at ${measured} ms (configured ${IDLE_MS} ms)`);
    // Shorter than any usual heartbeat (30 s assumed): a failure.
    assert.equal(idle.status, 'fail');
    assert.ok(Math.abs(measured - IDLE_MS) <= IDLE_MS * 0.1, `measured ${measured} ms`);
    // HAProxy closes TCP without a close frame.
    assert.deepEqual(idle.data.end, { how: 'fin', afterMs: measured, code: null, reason: null });

    const keep = checkOf(report, 'ws.keepalive');
    assert.equal(keep.status, 'ok');
    assert.equal(keep.data.pingIntervalMs, 600);
    assert.equal(keep.data.survived, true);
    // Held for twice the measured cut, pinging every 600 ms. Timers may fire a little late, so
    // the last ping can fall just outside the hold, and its pong after the close.
    const held = keep.data.heldMs as number;
    assert.equal(held, Math.round(2 * measured));
    const pings = keep.data.pings as number;
    const pongs = keep.data.pongs as number;
    const expected = Math.floor(held / 600);
    assert.ok(pings === expected || pings === expected - 1, `${pings} pings in ${held} ms`);
    assert.ok(pongs === pings || pongs === pings - 1, `${pongs} pongs for ${pings} pings`);
    t.diagnostic(`kept alive ${held} ms with ${pings} pings, ${pongs} pongs`);

    const fix = fixOf(report, 'idle-timeout');
    assert.equal(fix.severity, 'fail');
    // The timeout chain: the measured cut, the hop that made it (a FIN: a proxy, not the server),
    // the heartbeat proven to keep a connection alive, and the lines for each common hop.
    assert.equal(
      fix.advice,
      `Quiet connections are cut after ${seconds(measured)}; who: a proxy or load balancer closed TCP without a close frame (clients see 1006): ` +
        'nginx proxy_read_timeout, HAProxy timeout tunnel or an ALB/ELB idle timeout. ' +
        'Keep them alive with a heartbeat every 600 ms or less (pings every 600 ms kept one open through the cut), ' +
        'or raise the idle timeout of that hop above your heartbeat:',
    );
    assert.deepEqual(fix.lines, [
      '# nginx (proxy_read_timeout, default 60s), in the WebSocket location:',
      'proxy_read_timeout 3600s;',
      'proxy_send_timeout 3600s;',
      '# HAProxy (timeout tunnel governs upgraded connections), in the backend or defaults:',
      'timeout tunnel 3600s',
      'timeout client-fin 30s',
      '# AWS ALB (idle timeout, default 60 s, at most 4000 s):',
      'aws elbv2 modify-load-balancer-attributes --load-balancer-arn <arn> --attributes Key=idle_timeout.timeout_seconds,Value=3600',
    ]);
    assert.equal(report.verdict.transport, 'websocket');
    assert.equal(report.verdict.healthy, false);
  });
});
