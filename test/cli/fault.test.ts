import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';
import { freePort } from '../../lab/runner/ports.js';

const BIN = fileURLToPath(new URL('../../../bin/socketlens.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'fault', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('socketlens fault', () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  let admin: string;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port, { faults: true }, null, { faultLog: () => {} });
    admin = sidecar.adminUrl!.replace('http://', '');
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
  });

  it('starts a close fault on half the live connections, lists it with its hits, and clears it', async () => {
    const url = `${sidecar.url.replace('http', 'ws')}/ws`;
    const sockets = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<WebSocket>((resolve) => {
            const ws = new WebSocket(url);
            ws.once('open', () => resolve(ws));
          }),
      ),
    );
    const codes = sockets.map((ws) => new Promise<number>((r) => ws.once('close', (code) => r(code))));
    const started = await cli(['--admin', admin, 'close', '--code', '1012', '--share', '0.5', '--live']);
    assert.equal(started.code, 0, started.stderr);
    assert.match(
      started.stdout,
      /^started f1 {2}close {2}toward both {2}code=1012 {2}match share=0.5 live=true {2}hits \d+ {2}60 s left\n$/,
    );
    const hits = Number(/hits (\d+)/.exec(started.stdout)![1]);
    assert.ok(hits > 0 && hits < 10, `hits ${hits}`);
    const list = await cli(['--admin', admin, 'list']);
    assert.equal(list.code, 0);
    assert.equal(list.stdout.split('\n').filter((l) => l.startsWith('    hit ')).length, hits);
    // The hit connections are closed with 1012; the others stay open.
    for (const ws of sockets) ws.once('open', () => {});
    const closed = await Promise.race([
      Promise.all(codes.slice(0)).then(() => -1),
      new Promise<number>((r) => setTimeout(() => r(0), 500)),
    ]);
    assert.equal(closed, 0, 'not all connections closed');
    const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    assert.equal(open, 10 - hits);
    const cleared = await cli(['--admin', admin, 'clear']);
    assert.equal(cleared.stdout, 'ended 1 fault(s)\n');
    assert.equal((await cli(['--admin', admin, 'list'])).stdout, 'no active faults\n');
    for (const ws of sockets) ws.terminate();
  });

  it('bad input: one line naming the problem, exit 2', async () => {
    const r1 = await cli(['--admin', admin, 'explode']);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /^socketlens fault: action: unknown "explode"/);
    assert.equal(r1.stderr.split('\n').length, 2);
    const r2 = await cli(['--admin', admin, 'close', '--code', '1006']);
    assert.equal(r2.code, 2);
    assert.equal(r2.stderr, 'socketlens fault: code: 1006 may not be sent in a close frame\n');
    const r3 = await cli(['--admin', admin, 'end']);
    assert.equal(r3.code, 2);
  });

  it('an unreachable admin server: exit 1', async () => {
    const port = await freePort('127.0.0.1');
    const r = await cli(['--admin', `127.0.0.1:${port}`, 'list']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^socketlens fault: cannot reach the admin server at 127\.0\.0\.1:\d+/);
  });
});
