/**
 * Load with faults, full size: 2,000 WebSocket clients through Toxiproxy (latency + jitter both
 * ways, reset_peer on a fraction of handshakes and of connections mid-stream) and a sidecar child
 * process to an echo backend. Not run by CI (not a *.test.ts file).
 *
 *   npx tsc -p . && node dist/test/hardening/long/toxic-load.js [--connections 2000] [--messages 20]
 *
 * Prints a JSON summary; exit code 0 only when no echo was lost or reordered on a kept
 * connection (and every received prefix on a reset one was in order), every connection is
 * accounted for, no connection is active at the end and the sidecar's fds are back at baseline.
 */
import { runToxicLoad } from '../lib/toxic-load.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
}

const connections = arg('connections', 2000);
const r = await runToxicLoad({
  connections,
  messagesPerConnection: arg('messages', 20),
  sendIntervalMs: arg('interval-ms', 200),
  connectConcurrency: arg('connect-concurrency', 200),
  latencyMs: arg('latency-ms', 30),
  jitterMs: arg('jitter-ms', 25),
  handshakeResetToxicity: arg('handshake-reset', 0.05),
  midResetToxicity: arg('mid-reset', 0.1),
  midResetAfterMs: 100,
  log: (l) => process.stdout.write(`${l}\n`),
});
const problems: string[] = [...r.violations, ...r.otherOpenFailures];
if (r.kept + r.resetBeforeOpen + r.resetAfterOpen !== connections)
  problems.push('connections unaccounted for');
if (r.sidecar.wsConnectionsActive !== 0)
  problems.push(`ws_connections_active ${r.sidecar.wsConnectionsActive}`);
if ((r.sidecar.reasons.client_close ?? 0) !== r.kept) problems.push('client_close lines != kept connections');
if (r.sidecar.closeLogLines !== r.sidecar.wsConnectionsOpened) problems.push('close log != opened');
if (r.sidecar.fds.final !== r.sidecar.fds.baseline) problems.push('fds not back at baseline');
if (r.backendOpenSockets !== 0) problems.push(`backend still has ${r.backendOpenSockets} sockets`);
process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, problems, ...r }, null, 2)}\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
