// The backend's CLI as a real child process: listening line, --help, bad flags, SIGTERM.

import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const MAIN = fileURLToPath(new URL('../../lab/backend/main.js', import.meta.url));

/** The child's first stdout line (its "listening" line). */
function firstLine(child: ChildProcessByStdio<null, Readable, Readable>): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening`)));
  });
}

describe('backend CLI', () => {
  test('prints one JSON line when listening, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--node-id', 'cli1', '--heartbeat', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BACKEND_NODE_ID: 'ignored-because-flag-wins' },
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
      });
      const line = await firstLine(child);
      const info = JSON.parse(line);
      assert.deepEqual(Object.keys(info), ['event', 'node', 'url', 'port', 'bus']);
      assert.deepEqual([info.event, info.node, info.bus], ['listening', 'cli1', 'memory']);
      assert.equal(info.url, `http://127.0.0.1:${info.port}`);
      const res = await fetch(`${info.url}/healthz`);
      assert.equal(res.headers.get('x-backend-node'), 'cli1');
      assert.equal(await res.text(), 'ok');

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      assert.deepEqual([code, signal], [0, null]);
      assert.equal(out, `${line}\n`, 'exactly one line on stdout');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('--app socketio: a real Socket.IO app that reports how its sessions ended', async () => {
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--node-id', 'sio'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BACKEND_APP: 'socketio' },
    });
    try {
      const line = await firstLine(child);
      const info = JSON.parse(line);
      assert.deepEqual(Object.keys(info), ['event', 'node', 'app', 'url']);
      assert.deepEqual([info.event, info.node, info.app], ['listening', 'sio', 'socketio']);
      assert.equal(await (await fetch(`${info.url}/healthz`)).text(), 'ok\n');
      assert.deepEqual(await (await fetch(`${info.url}/closed-on`)).json(), []);

      // One session over WebSocket only, one that stays on polling; both acknowledged, both closed.
      const { io } = await import('socket.io-client');
      for (const transports of [['websocket'], ['polling']] as const) {
        const socket = io(info.url, { transports: [...transports], reconnection: false, forceNew: true });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        assert.deepEqual(await socket.timeout(3000).emitWithAck('chat', 'hi'), { echo: 'hi' });
        socket.disconnect();
      }
      let closedOn: string[] = [];
      for (let i = 0; i < 50 && closedOn.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        closedOn = (await (await fetch(`${info.url}/closed-on`)).json()) as string[];
      }
      assert.deepEqual(closedOn, ['websocket', 'polling']);

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [0, null]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('--help exits 0 with usage; a bad flag exits 2', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: node dist\/lab\/backend\/main\.js/);
    const bad = spawnSync(process.execPath, [MAIN, '--port', 'abc'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--port must be a non-negative integer/);
    const unknown = spawnSync(process.execPath, [MAIN, '--nope'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(unknown.status, 2);
    const app = spawnSync(process.execPath, [MAIN, '--app', 'express'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(app.status, 2);
    assert.match(app.stderr, /^backend: --app must be demo or socketio, got "express"\n/);
  });
});
