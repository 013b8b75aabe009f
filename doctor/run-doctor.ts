/**
 * Runs the doctor's steps in order and collects the report. Each step reports through the
 * progress sink as it starts and as each check is known, so a slow step (the idle probe can
 * take minutes) never looks like a hang.
 */
import type { DoctorOptions } from './options.js';
import { probeConnect } from './probe-connect.js';
import { probeEngineio } from './probe-engineio.js';
import { probeIdle, skipKeepalive } from './probe-idle.js';
import { probePoll } from './probe-poll.js';
import { probeSse } from './probe-sse.js';
import { probeRoundTrip, probeUpgrade } from './probe-ws.js';
import type { Check, CheckId, DoctorReport, ProgressSink } from './report.js';
import { buildVerdict, seconds } from './verdict.js';

function skipped(id: CheckId, title: string, why: string): Check {
  return { id, title, status: 'skip', summary: why, durationMs: 0, data: {} };
}

export async function runDoctor(opts: DoctorOptions, progress: ProgressSink): Promise<DoctorReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const checks: Check[] = [];
  const add = (...list: readonly Check[]) => {
    for (const c of list) {
      checks.push(c);
      progress.check(c);
    }
  };

  progress.step(
    `Connecting to ${opts.target.hostname}:${opts.target.port} (DNS, TCP${opts.target.secure ? ', TLS' : ''})`,
  );
  const connect = await probeConnect(opts);
  add(...connect.checks);

  let upgraded = false;
  const noWs =
    opts.engineio !== null ? 'Socket.IO endpoint: see the engine.io checks' : 'skipped (--ws none)';
  if (!opts.ws) {
    // The connection the connect step opened is not needed.
    connect.conn?.socket.destroy();
    add(skipped('ws.upgrade', 'WebSocket upgrade', noWs), skipped('ws.accept', 'Sec-WebSocket-Accept', noWs));
    add(
      skipped('ws.negotiation', 'Subprotocol / extensions', noWs),
      skipped('ws.roundtrip', 'Round trip', noWs),
    );
  } else if (connect.conn) {
    progress.step(`WebSocket upgrade: GET ${opts.target.path}`);
    const up = await probeUpgrade(connect.conn, opts);
    add(...up.checks);
    if (up.session) {
      progress.step('Round trip: ping and a text frame');
      add(await probeRoundTrip(up.session, opts));
      await up.session.close(Math.min(1000, opts.timeoutMs));
      upgraded = true;
    } else {
      add(skipped('ws.roundtrip', 'Round trip', 'no WebSocket'));
    }
  } else {
    const why = 'no usable connection';
    add(skipped('ws.upgrade', 'WebSocket upgrade', why), skipped('ws.accept', 'Sec-WebSocket-Accept', why));
    add(
      skipped('ws.negotiation', 'Subprotocol / extensions', why),
      skipped('ws.roundtrip', 'Round trip', why),
    );
  }
  if (!opts.ws) {
    add(skipped('ws.idle', 'Idle timeout', noWs), skipKeepalive(noWs));
  } else if (!connect.conn) {
    add(skipped('ws.idle', 'Idle timeout', 'no usable connection'), skipKeepalive('no usable connection'));
  } else if (opts.idleProbeMs === 0) {
    add(
      skipped('ws.idle', 'Idle timeout', 'not measured (use --idle-probe 75s)'),
      skipKeepalive('not measured'),
    );
  } else if (!upgraded) {
    add(skipped('ws.idle', 'Idle timeout', 'no WebSocket to hold'), skipKeepalive('no WebSocket'));
  } else {
    const idle = await probeIdle(opts, (title) => progress.step(title));
    add(...idle.checks);
  }

  // SSE and long-poll go over connections of their own; only skip them when nothing connects.
  const eio = opts.engineio !== null;
  if (opts.sse === null)
    add(
      skipped(
        'sse',
        'SSE',
        eio ? 'Socket.IO endpoint: not looked for (--sse PATH asks)' : 'skipped (--sse none)',
      ),
    );
  else if (!connect.conn) add(skipped('sse', 'SSE', 'no usable connection'));
  else {
    progress.step(`SSE: GET ${opts.sse.path}, watching for ${seconds(opts.sseWindowMs)}`);
    add(await probeSse(opts));
  }
  if (opts.poll === null)
    add(
      skipped(
        'poll',
        'Long-poll',
        eio ? 'Socket.IO endpoint: not looked for (--poll PATH asks)' : 'skipped (--poll none)',
      ),
    );
  else if (!connect.conn) add(skipped('poll', 'Long-poll', 'no usable connection'));
  else {
    progress.step(`Long-poll: GET ${opts.poll.path}`);
    add(await probePoll(opts));
  }

  if (opts.engineio === null) {
    const why = 'not a Socket.IO endpoint (--engineio PATH to probe one)';
    add(skipped('eio.open', 'engine.io handshake', why), skipped('eio.upgrade', 'engine.io upgrade', why));
  } else if (!connect.conn) {
    const why = 'no usable connection';
    add(skipped('eio.open', 'engine.io handshake', why), skipped('eio.upgrade', 'engine.io upgrade', why));
  } else {
    // Each engine.io step opens a connection of its own, as a Socket.IO client does.
    progress.step(`engine.io: GET ${opts.engineio}?EIO=4&transport=polling, then the WebSocket upgrade`);
    add(...(await probeEngineio(opts)).checks);
  }

  const verdict = buildVerdict(checks, { hostPort: `${opts.target.hostname}:${opts.target.port}` });
  return {
    url: opts.target.url.href,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    checks,
    verdict,
    exitCode: verdict.healthy ? 0 : 1,
  };
}
