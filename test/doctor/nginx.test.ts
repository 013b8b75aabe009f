// `socketlens doctor` through the lab's real nginx TLS edge, in front of a real ws/SSE/poll
// backend: the correct location, the stripped-Upgrade location and the buffering location.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NginxEdge, startNginx } from '../../lab/runner/components/nginx.js';
import { NGINX_STREAM_LINES, NGINX_UPGRADE_LINES } from '../../doctor/verdict.js';
import {
  type DoctorBackend,
  POLL_HOLD_MS,
  SSE_EVENTS,
  SSE_SPACING_MS,
  startDoctorBackend,
} from './backend.js';
import { checkOf, fixOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

describe('doctor through nginx', { timeout: 60_000 }, () => {
  let backend: DoctorBackend;
  let edge: NginxEdge;
  let wss: string;

  before(async () => {
    backend = await startDoctorBackend();
    edge = await startNginx({ upstream: backend.address });
    wss = `wss://127.0.0.1:${edge.httpsPort}`;
  });

  after(async () => {
    await edge?.stop();
    await backend?.close();
  });

  it('correct location (wss, --insecure): healthy, accept verified, round trip, SSE flowing', async (t) => {
    const r = await runDoctorCli([`${wss}/ws`, '--insecure', '--json']);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stderr, '');
    const report = parseReport(r.stdout);
    assert.equal(report.url, `${wss}/ws`);
    assert.equal(report.exitCode, 0);

    const dns = checkOf(report, 'dns');
    assert.deepEqual(dns.data.addresses, ['127.0.0.1']);
    assert.equal(checkOf(report, 'tcp').status, 'ok');
    // The lab certificate is self-signed and lives 7 days: both worth a warning, neither fatal.
    const tls = checkOf(report, 'tls');
    assert.equal(tls.status, 'warn');
    assert.equal(tls.data.protocol, 'TLSv1.3');
    assert.equal(tls.data.subject, 'localhost');
    assert.deepEqual(tls.data.altNames, ['DNS:localhost', 'IP Address:127.0.0.1']);
    assert.equal(tls.data.hostMatch, true);
    assert.equal(tls.data.chainTrusted, false);
    assert.equal(tls.data.chainError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(tls.data.selfSigned, true);
    assert.equal(tls.data.trusted, false);
    assert.ok(tls.data.daysLeft === 6 || tls.data.daysLeft === 7, `daysLeft ${tls.data.daysLeft}`);

    const upgrade = checkOf(report, 'ws.upgrade');
    assert.equal(upgrade.status, 'ok');
    assert.equal(upgrade.data.status, 101);
    const accept = checkOf(report, 'ws.accept');
    assert.equal(accept.status, 'ok');
    assert.equal(accept.data.verified, true);
    assert.equal(accept.data.got, accept.data.expected);
    const negotiation = checkOf(report, 'ws.negotiation');
    assert.equal(negotiation.status, 'ok');
    assert.equal(negotiation.data.extensionsOffered, 'permessage-deflate; client_max_window_bits');
    assert.equal(negotiation.data.extensionsNegotiated, 'permessage-deflate');
    assert.equal(negotiation.data.protocolSelected, null);

    const rt = checkOf(report, 'ws.roundtrip');
    assert.equal(rt.status, 'ok');
    assert.equal(rt.data.reply, 'echo');
    assert.equal(rt.data.replyText, 'socketlens doctor');
    // ws compresses its echo with the negotiated permessage-deflate; doctor inflates it.
    assert.equal(rt.data.replyCompressed, true);
    const pingRtt = rt.data.pingRttMs as number;
    const replyMs = rt.data.replyMs as number;
    assert.ok(pingRtt > 0 && pingRtt < 1000, `ping rtt ${pingRtt}`);
    assert.ok(replyMs > 0 && replyMs < 1000, `reply ${replyMs}`);

    assert.equal(checkOf(report, 'ws.idle').status, 'skip');
    const sse = checkOf(report, 'sse');
    assert.equal(sse.status, 'ok');
    assert.equal(sse.data.status, 200);
    assert.equal(sse.data.contentType, 'text/event-stream');
    assert.equal(sse.data.buffered, false);
    assert.equal(sse.data.events, SSE_EVENTS);
    assert.equal(sse.data.ended, true);
    const arrivals = sse.data.arrivalsMs as number[];
    // Events come one by one, about SSE_SPACING_MS apart, not in a lump.
    assert.ok(arrivals[0] >= SSE_SPACING_MS * 0.9, `first event at ${arrivals[0]} ms`);
    assert.ok(
      arrivals.at(-1)! - arrivals[0] >= SSE_SPACING_MS * (SSE_EVENTS - 1) * 0.8,
      `spread ${arrivals}`,
    );

    const poll = checkOf(report, 'poll');
    assert.equal(poll.status, 'ok');
    assert.equal(poll.data.status, 200);
    assert.equal(poll.data.contentType, 'application/json');
    assert.equal(poll.data.bytes, 38);
    assert.ok((poll.data.totalMs as number) >= POLL_HOLD_MS * 0.9);

    assert.equal(report.verdict.transport, 'websocket');
    assert.equal(report.verdict.healthy, true);
    assert.equal(report.verdict.summary, 'Healthy: use WebSocket.');
    assert.deepEqual(
      report.verdict.fixes.map((f) => [f.problem, f.severity]),
      [
        ['tls-untrusted', 'warn'],
        ['tls-expiring', 'warn'],
      ],
    );
    t.diagnostic(`ping rtt ${pingRtt} ms, echo ${replyMs} ms, SSE first event ${arrivals[0]} ms`);
  });

  it('human report: marks per check on stdout, progress on stderr', async () => {
    const r = await runDoctorCli([`${wss}/ws`, '--insecure', '--sse', 'none', '--poll', 'none']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `socketlens doctor ${wss}/ws`);
    assert.ok(
      lines.some((l) => l.startsWith('✓ WebSocket upgrade          HTTP/1.1 101 Switching Protocols in ')),
    );
    assert.ok(
      lines.some((l) => l.startsWith('✓ Sec-WebSocket-Accept       verified against the key sent (')),
    );
    assert.ok(lines.some((l) => l.startsWith('! TLS                        TLSv1.3 ')));
    assert.ok(lines.includes('- SSE                        skipped (--sse none)'));
    assert.ok(lines.includes('Verdict: Healthy: use WebSocket.'));
    assert.deepEqual(r.stderr.split('\n'), [
      `… Connecting to 127.0.0.1:${edge.httpsPort} (DNS, TCP, TLS)`,
      '… WebSocket upgrade: GET /ws',
      '… Round trip: ping and a text frame',
      '',
    ]);
  });

  it('/stripped/: exit 1, the backend 426 reported, the verdict prints the nginx fix and falls back to SSE', async () => {
    const r = await runDoctorCli([
      `${wss}/stripped/ws`,
      '--insecure',
      '--sse',
      '/stripped/sse',
      '--poll',
      '/stripped/poll',
    ]);
    assert.equal(r.code, 1);
    assert.ok(
      r.stdout.includes(
        '✗ WebSocket upgrade          HTTP/1.1 426 Upgrade Required ("Upgrade Required"), not 101\n',
      ),
      r.stdout,
    );
    for (const line of NGINX_UPGRADE_LINES) assert.ok(r.stdout.includes(`        ${line}\n`), line);
    assert.ok(
      r.stdout.includes(
        '\nVerdict: Use SSE for now; WebSocket does not work through this path until the problems below are fixed.\n',
      ),
    );

    const j = await runDoctorCli([
      `${wss}/stripped/ws`,
      '--insecure',
      '--json',
      '--sse',
      'none',
      '--poll',
      'none',
    ]);
    assert.equal(j.code, 1);
    const report = parseReport(j.stdout);
    const upgrade = checkOf(report, 'ws.upgrade');
    assert.equal(upgrade.status, 'fail');
    assert.equal(upgrade.data.status, 426);
    assert.equal(upgrade.data.reason, 'Upgrade Required');
    assert.equal(upgrade.data.body, 'Upgrade Required');
    assert.equal(checkOf(report, 'ws.accept').status, 'skip');
    const fix = fixOf(report, 'upgrade-stripped');
    assert.equal(fix.severity, 'fail');
    assert.deepEqual(fix.lines, NGINX_UPGRADE_LINES);
    assert.equal(report.verdict.transport, 'none');
  });

  it('/buffered/ SSE: events held back and released in one burst are reported as buffered', async () => {
    const r = await runDoctorCli([
      `${wss}/ws`,
      '--insecure',
      '--json',
      '--sse',
      '/buffered/sse',
      '--poll',
      '/buffered/poll',
    ]);
    assert.equal(r.code, 1);
    const report = parseReport(r.stdout);
    const sse = checkOf(report, 'sse');
    assert.equal(sse.status, 'fail');
    assert.equal(sse.data.buffered, true);
    assert.equal(sse.data.events, SSE_EVENTS);
    assert.equal(sse.data.bursts, 1);
    assert.equal(sse.data.ended, true);
    // Nothing before the backend ended its 1.6 s stream.
    assert.ok(
      (sse.data.firstEventMs as number) >= SSE_SPACING_MS * SSE_EVENTS * 0.9,
      `first event ${sse.data.firstEventMs}`,
    );
    const fix = fixOf(report, 'sse-buffered');
    assert.deepEqual(fix.lines, NGINX_STREAM_LINES);
    assert.ok(fix.lines.includes('proxy_buffering off;'));
    assert.ok(fix.lines.includes('X-Accel-Buffering: no'));
    // Long-poll still works through a buffering hop; WebSocket went through `/`.
    assert.equal(checkOf(report, 'poll').status, 'ok');
    assert.equal(report.verdict.transport, 'websocket');
    assert.equal(report.verdict.healthy, false);
  });

  it('/buffered/ endless SSE: nothing arrives at all, and the buffering fix is still suggested', async () => {
    const r = await runDoctorCli([
      `${wss}/ws`,
      '--insecure',
      '--json',
      '--timeout',
      '2s',
      '--sse',
      '/buffered/sse?endless',
      '--poll',
      'none',
    ]);
    assert.equal(r.code, 1);
    const report = parseReport(r.stdout);
    const sse = checkOf(report, 'sse');
    assert.equal(sse.status, 'fail');
    assert.equal(sse.data.events, 0);
    assert.equal(sse.data.buffered, null);
    assert.equal(
      sse.summary,
      '/buffered/sse?endless: no response headers within 2000 ms (a buffering hop holds them back with the first events, or the server is slow)',
    );
    assert.equal(fixOf(report, 'sse-buffered').severity, 'fail');
  });
});
