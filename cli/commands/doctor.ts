/** `socketlens doctor <url>`: probe a real-time endpoint end to end and say what to fix. */
import { SUMMARIES } from '../summaries.js';
import { renderHelp } from '../../proxy/config/help.js';
import { parseArgs } from '../../proxy/config/load.js';
import { DOCTOR_OPTIONS, resolveDoctorOptions } from '../../doctor/options.js';
import { humanProgress, renderHeader, renderVerdict, silentProgress } from '../../doctor/render.js';
import { runDoctor } from '../../doctor/run-doctor.js';

export const summary = SUMMARIES.doctor;

export const help = () =>
  renderHelp(
    'socketlens doctor <url> [options]',
    summary,
    DOCTOR_OPTIONS,
    [
      'The URL is ws://, wss://, http:// or https://. Steps: DNS, TCP, TLS; the WebSocket upgrade by',
      'hand (status, Sec-WebSocket-Accept, subprotocol, extensions); a round trip (ping, text frame);',
      'with --idle-probe, the idle cut (when and how: close code, FIN or RST) and whether pings beat it;',
      'SSE (status, content-type, time to first byte, buffering from event arrival times); long-poll;',
      'then a verdict: the transport to use (WebSocket > SSE > long-poll) and the likely fixes.',
      'At a Socket.IO URL (http://host/socket.io/, or --engineio PATH): the engine.io handshake over',
      'polling (sid, upgrades, pingInterval, pingTimeout), then the upgrade of that session to WebSocket',
      '(101, 2probe/3probe, 5), replacing the plain upgrade; SSE and long-poll only when asked for.',
      '',
      'Human output marks each check ✓ ok, ! warning, ✗ problem, - skipped; progress goes to stderr.',
      '--json prints one document: {url, startedAt, durationMs, exitCode, checks[], verdict}; each check',
      'is {id, title, status: ok|warn|fail|skip, summary, durationMs, data}, ids dns, tcp, tls,',
      'ws.upgrade, ws.accept, ws.negotiation, ws.roundtrip, ws.idle, ws.keepalive, sse, poll, eio.open,',
      'eio.upgrade; verdict is',
      '{transport: websocket|sse|long-poll|none, healthy, summary, fixes[{problem, severity, advice, lines}]}.',
      '',
      'Durations: 500ms, 2s, 1m or plain milliseconds. Options are flags only (no environment variables).',
      'Exit codes: 0 healthy, 1 a problem was found, 2 usage error.',
    ].join('\n'),
  );

export async function run(argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseArgs(argv, DOCTOR_OPTIONS);
  if (args.help) {
    process.stdout.write(help());
    return 0;
  }
  // Throws ConfigError on bad input: the CLI prints it as one line and exits 2.
  const opts = resolveDoctorOptions(args);
  if (opts.json) {
    const report = await runDoctor(opts, silentProgress);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.exitCode;
  }
  process.stdout.write(renderHeader(opts.target.url.href));
  const report = await runDoctor(opts, humanProgress(process.stdout, process.stderr));
  process.stdout.write(renderVerdict(report));
  return report.exitCode;
}
