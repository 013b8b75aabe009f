// `socketlens doctor http://host/socket.io/` against a real Socket.IO 4 server: straight (the
// handshake over polling, then the upgrade with 2probe/3probe), through the lab's real nginx
// (the correct location, and /stripped/, which drops the Upgrade pair), and against a server
// that is not Socket.IO at that path. Exit codes and findings exactly as a user reads them.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server as SocketIoServer } from 'socket.io';
import { type NginxEdge, startNginx } from '../../lab/runner/components/nginx.js';
import { NGINX_UPGRADE_LINES } from '../../doctor/verdict.js';
import { type DoctorBackend, startDoctorBackend } from './backend.js';
import { checkOf, fixOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

describe('doctor against a real Socket.IO server', { timeout: 60_000 }, () => {
  let httpServer: http.Server;
  let io: SocketIoServer;
  let port: number;
  let edge: NginxEdge;
  let other: DoctorBackend;
  /** Transports of every server-side socket, when it disconnected. */
  const seen: string[] = [];

  before(async () => {
    httpServer = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
    io = new SocketIoServer(httpServer, { pingInterval: 10_000, pingTimeout: 5_000 });
    io.on('connection', (s) => s.on('message', (m: unknown) => s.send(m)));
    io.engine.on(
      'connection',
      (socket: { transport: { name: string }; on: (e: string, f: () => void) => void }) => {
        socket.on('close', () => seen.push(socket.transport.name));
      },
    );
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    port = (httpServer.address() as AddressInfo).port;
    edge = await startNginx({ upstream: `127.0.0.1:${port}` });
    other = await startDoctorBackend();
  });

  after(async () => {
    await edge?.stop();
    await other?.close();
    io?.close();
    httpServer?.closeAllConnections();
  });

  it('direct: polling handshake, then the upgrade; healthy, exit 0', async () => {
    const r = await runDoctorCli([`http://127.0.0.1:${port}/socket.io/`, '--json']);
    assert.equal(r.code, 0, r.stdout);
    const report = parseReport(r.stdout);
    const open = checkOf(report, 'eio.open');
    assert.equal(open.status, 'ok');
    assert.equal(open.data.path, '/socket.io/?EIO=4&transport=polling');
    assert.equal(open.data.status, 200);
    assert.deepEqual(open.data.upgrades, ['websocket']);
    assert.equal(open.data.pingInterval, 10_000);
    assert.equal(open.data.pingTimeout, 5_000);
    assert.equal(open.data.maxPayload, 1_000_000);
    const sid = open.data.sid as string;
    assert.match(sid, /^[\w-]{20}$/);
    assert.match(
      open.summary,
      new RegExp(
        `^polling works: sid ${sid}, upgrades \\[websocket\\], pingInterval 10000 ms, pingTimeout 5000 ms \\(HTTP 200 in [\\d.]+ ms\\)$`,
      ),
    );
    const up = checkOf(report, 'eio.upgrade');
    assert.equal(up.status, 'ok');
    assert.equal(up.data.path, `/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    assert.equal(up.data.status, 101);
    assert.match(
      up.summary,
      new RegExp(
        `^HTTP/1\\.1 101 Switching Protocols in [\\d.]+ ms with sid ${sid}; 2probe→3probe [\\d.]+ ms; upgraded$`,
      ),
    );
    // The plain upgrade and SSE/long-poll are not what a Socket.IO endpoint is about.
    for (const id of ['ws.upgrade', 'ws.accept', 'ws.negotiation', 'ws.roundtrip'] as const)
      assert.equal(checkOf(report, id).summary, 'Socket.IO endpoint: see the engine.io checks');
    assert.equal(checkOf(report, 'sse').summary, 'Socket.IO endpoint: not looked for (--sse PATH asks)');
    assert.equal(checkOf(report, 'poll').summary, 'Socket.IO endpoint: not looked for (--poll PATH asks)');
    assert.deepEqual(report.verdict, {
      transport: 'websocket',
      healthy: true,
      summary: 'Healthy: Socket.IO connects over polling and upgrades to WebSocket.',
      fixes: [],
    });
    // The server saw one session, upgraded, closed by the doctor's close packet.
    await waitFor(() => seen.length >= 1);
    assert.deepEqual(seen.splice(0), ['websocket']);
  });

  it('through nginx, the correct location: healthy, exit 0; human report names both steps', async () => {
    const r = await runDoctorCli([`${edge.httpUrl}/socket.io/`]);
    assert.equal(r.code, 0, r.stdout);
    const lines = r.stdout.split('\n');
    assert.ok(
      lines.some((l) => /^✓ engine\.io handshake {8}polling works: sid /.test(l)),
      r.stdout,
    );
    assert.ok(lines.some((l) => /^✓ engine\.io upgrade {10}HTTP\/1\.1 101 Switching Protocols in /.test(l)));
    assert.ok(lines.includes('Verdict: Healthy: Socket.IO connects over polling and upgrades to WebSocket.'));
    assert.ok(
      r.stderr.includes(`… engine.io: GET /socket.io/?EIO=4&transport=polling, then the WebSocket upgrade\n`),
    );
  });

  it('through nginx /stripped/: polling works, the upgrade is stripped (400); the nginx fix, exit 1', async () => {
    const r = await runDoctorCli([`${edge.httpUrl}/stripped/socket.io/`, '--json']);
    assert.equal(r.code, 1, r.stdout);
    const report = parseReport(r.stdout);
    assert.equal(checkOf(report, 'eio.open').status, 'ok');
    const up = checkOf(report, 'eio.upgrade');
    assert.equal(up.status, 'fail');
    assert.equal(up.data.status, 400);
    assert.equal(up.data.stripped, true);
    assert.equal(up.data.errorCode, 3);
    assert.equal(up.data.errorMessage, 'Bad request');
    assert.equal(
      up.summary,
      'HTTP/1.1 400 Bad Request ("{"code":3,"message":"Bad request"}"), not 101: the upgrade reached the server as a plain GET',
    );
    assert.equal(report.verdict.transport, 'long-poll');
    assert.equal(report.verdict.healthy, false);
    assert.equal(
      report.verdict.summary,
      'Socket.IO: polling works, the WebSocket upgrade is stripped, so clients fall back to polling.',
    );
    assert.deepEqual(
      report.verdict.fixes.map((f) => [f.problem, f.severity]),
      [['engineio-upgrade-stripped', 'fail']],
    );
    const fix = fixOf(report, 'engineio-upgrade-stripped');
    assert.equal(
      fix.advice,
      'Polling works, the WebSocket upgrade is stripped, so clients fall back to polling: the upgrade got HTTP 400, not 101, because a hop does not forward the Upgrade/Connection headers (the server saw a plain GET). In nginx, for the Socket.IO location:',
    );
    assert.deepEqual(fix.lines, NGINX_UPGRADE_LINES);
  });

  it('a server that is not Socket.IO at /socket.io/: "no engine.io server", exit 1', async () => {
    const r = await runDoctorCli([`http://${other.address}/socket.io/`, '--json']);
    assert.equal(r.code, 1, r.stdout);
    const report = parseReport(r.stdout);
    const open = checkOf(report, 'eio.open');
    assert.equal(open.status, 'fail');
    assert.equal(open.data.engineio, false);
    assert.equal(open.summary, 'no engine.io server at /socket.io/: HTTP 404 "not found"');
    assert.equal(checkOf(report, 'eio.upgrade').summary, 'no engine.io session to upgrade');
    assert.equal(report.verdict.transport, 'none');
    assert.equal(
      report.verdict.summary,
      `Socket.IO cannot connect through this path. First failure: engine.io handshake at ${other.address} (no engine.io server at /socket.io/: HTTP 404 "not found").`,
    );
    assert.deepEqual(report.verdict.fixes, [
      {
        problem: 'engineio-not-found',
        severity: 'fail',
        advice:
          'No engine.io server answers at /socket.io/ (HTTP 404 "not found"): check the Socket.IO server\'s path option (and --engineio PATH here), and the routes of every hop to it.',
        lines: [],
      },
    ]);
  });

  it('--engineio none at a Socket.IO URL: the plain probes, no engine.io checks', async () => {
    const r = await runDoctorCli([
      `http://127.0.0.1:${port}/socket.io/`,
      '--json',
      '--engineio',
      'none',
      '--sse',
      'none',
      '--poll',
      'none',
    ]);
    const report = parseReport(r.stdout);
    assert.equal(
      checkOf(report, 'eio.open').summary,
      'not a Socket.IO endpoint (--engineio PATH to probe one)',
    );
    assert.notEqual(checkOf(report, 'ws.upgrade').summary, 'Socket.IO endpoint: see the engine.io checks');
  });
});

async function waitFor(done: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
