// The backend's CLI as a real child process: listening line, --help, bad flags, SIGTERM.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const MAIN = fileURLToPath(new URL('../../lab/backend/main.js', import.meta.url));

describe('backend CLI', () => {
  test('prints one JSON line when listening, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--node-id', 'cli1', '--heartbeat', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BACKEND_NODE_ID: 'ignored-because-flag-wins' },
    });
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: string) => {
          out += d;
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code} before listening`)));
      });
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

  test('--help exits 0 with usage; a bad flag exits 2', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: node dist\/lab\/backend\/main\.js/);
    const bad = spawnSync(process.execPath, [MAIN, '--port', 'abc'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--port must be a non-negative integer/);
    const unknown = spawnSync(process.execPath, [MAIN, '--nope'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(unknown.status, 2);
  });
});
