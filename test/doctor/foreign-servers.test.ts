// `socketlens doctor` against real servers this project did not write: a Python `websockets`
// echo server, an SSE-only app (sse-starlette on uvicorn) and a Socket.IO server, each with the
// verdict and exit code a user should get.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Server as SocketIoServer } from 'socket.io';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { checkOf, fixOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

const SERVERS = fileURLToPath(new URL('../../../test/doctor/servers/', import.meta.url));

/** Starts a Python server script that prints its port first; resolves with the child and port. */
async function startPython(script: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('python3', [`${SERVERS}${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => String(l)),
    once(child, 'exit').then(() => {
      throw new Error(`${script} exited: ${stderr}`);
    }),
  ]);
  return { child, port: Number(first) };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

describe('doctor against Python websockets (an echo server answering plain GETs with 426)', () => {
  let server: { child: ChildProcess; port: number };
  before(async () => {
    server = await startPython('websockets_echo.py');
  });
  after(() => stopChild(server?.child));

  it('healthy WebSocket: SSE and long-poll, only looked for, are "not offered" (426), exit 0', async () => {
    const r = await runDoctorCli([`ws://127.0.0.1:${server.port}/chat`, '--json']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(checkOf(report, 'ws.upgrade').status, 'ok');
    assert.equal(checkOf(report, 'ws.roundtrip').status, 'ok');
    for (const id of ['sse', 'poll'] as const) {
      const c = checkOf(report, id);
      assert.equal(c.status, 'skip');
      assert.equal(c.data.status, 426);
      assert.equal(c.data.offered, false);
    }
    assert.equal(
      checkOf(report, 'sse').summary,
      'not offered at /sse (HTTP 426); pass --sse PATH if SSE lives elsewhere',
    );
    assert.deepEqual(report.verdict, {
      transport: 'websocket',
      healthy: true,
      summary: 'Healthy: use WebSocket.',
      fixes: [],
    });
  });

  it('SSE asked for with --sse: the 426 fails the run, and the fix says so', async () => {
    const r = await runDoctorCli([
      `ws://127.0.0.1:${server.port}/chat`,
      '--json',
      '--sse',
      '/sse',
      '--poll',
      'none',
    ]);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 1);
    assert.equal(checkOf(report, 'sse').status, 'fail');
    assert.equal(checkOf(report, 'poll').summary, 'skipped (--poll none)');
    assert.equal(report.verdict.summary, 'Use WebSocket, and fix the problems below.');
    assert.deepEqual(report.verdict.fixes, [
      {
        severity: 'fail',
        problem: 'sse-not-offered',
        advice:
          'SSE was asked for at /sse, but HTTP 426 there: check the path (--sse) and the routes of every hop.',
        lines: [],
      },
    ]);
  });

  it('human report: the verdict lists the problem below it', async () => {
    const r = await runDoctorCli([`ws://127.0.0.1:${server.port}/chat`, '--sse', '/sse', '--poll', 'none']);
    assert.equal(r.code, 1);
    const out = r.stdout.split('\n');
    const at = out.indexOf('Verdict: Use WebSocket, and fix the problems below.');
    assert.ok(at > 0, r.stdout);
    // Figures are rounded for people: no long fractions anywhere in the report.
    assert.deepEqual(r.stdout.match(/\d+\.\d{2,}/g), null);
    assert.match(out[at + 3], /^ {2}\((\d+ ms|\d\.\d s|\d+ s), exit 1\)$/);
    assert.equal(
      out[at + 2],
      '  ✗ sse-not-offered: SSE was asked for at /sse, but HTTP 426 there: check the path (--sse) and the routes of every hop.',
    );
  });
});

describe('doctor against an SSE-only app (sse-starlette on uvicorn)', () => {
  let server: { child: ChildProcess; port: number };
  before(async () => {
    server = await startPython('sse_starlette_app.py');
  });
  after(() => stopChild(server?.child));

  it('http:// URL with --sse: WebSocket only looked for (403: not offered), SSE flows, exit 0', async () => {
    const r = await runDoctorCli([`http://127.0.0.1:${server.port}/events`, '--json', '--sse', '/events']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 0, r.stdout);
    const up = checkOf(report, 'ws.upgrade');
    assert.equal(up.status, 'skip');
    assert.equal(up.data.status, 403);
    assert.equal(checkOf(report, 'sse').status, 'ok');
    assert.equal(checkOf(report, 'sse').data.buffered, false);
    assert.equal(checkOf(report, 'poll').status, 'skip');
    assert.equal(checkOf(report, 'poll').data.status, 404);
    assert.equal(report.verdict.transport, 'sse');
    assert.equal(report.verdict.summary, 'Healthy: use SSE.');
  });

  it('ws:// URL asks for WebSocket: the 403 fails (exit 1); --ws none says there is none (exit 0)', async () => {
    const asked = await runDoctorCli([`ws://127.0.0.1:${server.port}/events`, '--json', '--sse', '/events']);
    const a = parseReport(asked.stdout);
    assert.equal(asked.code, 1);
    assert.equal(checkOf(a, 'ws.upgrade').status, 'fail');
    assert.equal(fixOf(a, 'upgrade-rejected').severity, 'fail');
    assert.equal(
      a.verdict.summary,
      'Use SSE for now; WebSocket does not work through this path until the problems below are fixed.',
    );

    const none = await runDoctorCli([
      `ws://127.0.0.1:${server.port}/events`,
      '--json',
      '--ws',
      'none',
      '--sse',
      '/events',
    ]);
    const n = parseReport(none.stdout);
    assert.equal(none.code, 0, none.stdout);
    assert.equal(checkOf(n, 'ws.upgrade').summary, 'skipped (--ws none)');
    assert.equal(checkOf(n, 'ws.idle').summary, 'skipped (--ws none)');
    assert.equal(n.verdict.summary, 'Healthy: use SSE.');
  });
});

describe('doctor against Socket.IO, upgrading on a path it does not serve', () => {
  let httpServer: http.Server;
  let io: SocketIoServer;
  let port: number;
  let sidecar: TestSidecar;
  before(async () => {
    httpServer = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
    io = new SocketIoServer(httpServer);
    io.on('connection', (s) => s.on('message', (m: unknown) => s.send(m)));
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    port = (httpServer.address() as AddressInfo).port;
    sidecar = await startTestSidecar(port);
  });
  after(async () => {
    await sidecar?.close();
    io?.close();
    httpServer?.closeAllConnections();
  });

  it('direct: "the server closed the connection without answering", not unreachable (exit 1)', async () => {
    const r = await runDoctorCli([`ws://127.0.0.1:${port}/chat`, '--json']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 1);
    const up = checkOf(report, 'ws.upgrade');
    assert.equal(up.summary, 'the server closed the connection without answering the upgrade');
    assert.equal(up.data.ended, 'fin');
    assert.equal(
      report.verdict.summary,
      `Nothing works through this path. First failure: the server at 127.0.0.1:${port} (the server closed the connection without answering the upgrade).`,
    );
    assert.deepEqual(
      report.verdict.fixes.map((f) => f.problem),
      ['upgrade-closed'],
    );
  });

  it('through the sidecar: its 502 says the backend closed, and the doctor reports that (exit 1)', async () => {
    const sidecarPort = Number(new URL(sidecar.url).port);
    const r = await runDoctorCli([`ws://127.0.0.1:${sidecarPort}/chat`, '--json']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 1);
    const up = checkOf(report, 'ws.upgrade');
    assert.equal(up.data.status, 502);
    assert.equal(up.data.body, 'socketlens: the backend closed the connection without answering the upgrade');
    assert.deepEqual(
      report.verdict.fixes.map((f) => f.problem),
      ['upstream-closed'],
    );
    assert.match(
      report.verdict.summary,
      new RegExp(
        `^Nothing works through this path\\. First failure: the hop at 127\\.0\\.0\\.1:${sidecarPort} is up but its backend is not usable`,
      ),
    );
    assert.deepEqual(
      sidecar.logs.filter((l) => l.status === 502).map((l) => l.reason),
      ['upstream_unavailable'],
    );
  });
});
