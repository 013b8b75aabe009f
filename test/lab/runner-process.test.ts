// Process supervision with real child processes: readiness, logs, stop escalation, restart,
// process-group kill, and no orphans when the parent goes away.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../lab/runner/ports.js';
import { startProcess } from '../../lab/runner/process.js';
import { probeTcp, waitUntil } from '../../lab/runner/wait.js';

const processModule = new URL('../../lab/runner/process.js', import.meta.url).href;

/** True while `pid` runs. A zombie (exited, not yet reaped by its new parent) counts as dead:
 * orphans are reparented to PID 1, which may reap them only later. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A node child that listens on `port` and logs a line. */
const listener = (port: number) =>
  `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('listening on ${port}'))`;

describe('startProcess', { timeout: 20_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'socketlens-proc-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('waits for the port, logs to <workDir>/<name>.log, stops with SIGTERM', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'listener',
      command: process.execPath,
      args: ['-e', listener(port)],
      workDir: dir,
      ready: { port },
    });
    assert.equal(await probeTcp(port), true);
    assert.equal(proc.running, true);
    assert.equal(proc.logPath, join(dir, 'listener.log'));
    await waitUntil('log line', async () => proc.logTail().includes(`listening on ${port}`));
    await proc.stop();
    assert.deepEqual(await proc.exited(), { code: null, signal: 'SIGTERM' });
    assert.equal(proc.running, false);
    assert.equal(proc.pid, undefined);
    assert.equal(await probeTcp(port), false);
  });

  it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', `process.on('SIGTERM', () => {}); ${listener(port)}`],
      workDir: dir,
      ready: { port },
      stopTimeoutMs: 300,
    });
    const t0 = performance.now();
    await proc.stop();
    const took = performance.now() - t0;
    assert.deepEqual(await proc.exited(), { code: null, signal: 'SIGKILL' });
    assert.ok(took >= 290 && took < 2000, `stop took ${took} ms`);
  });

  it('reports a child that dies before it is ready, with its log', async () => {
    const port = await freePort();
    await assert.rejects(
      startProcess({
        name: 'dies',
        command: process.execPath,
        args: ['-e', "console.error('bind: Address already in use'); process.exit(3)"],
        workDir: dir,
        ready: { port },
      }),
      (err: Error & { code?: string; logTail?: string }) => {
        assert.equal(err.code, 'SL_LAB_PROCESS_EXITED');
        assert.match(err.message, /^dies exited with code 3 before it was ready/);
        assert.match(err.logTail ?? '', /bind: Address already in use/);
        return true;
      },
    );
  });

  it('gives up after readyTimeoutMs and stops the child', async () => {
    const port = await freePort();
    let pid = 0;
    await assert.rejects(
      startProcess({
        name: 'silent',
        command: process.execPath,
        args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'],
        workDir: dir,
        ready: { port },
        readyTimeoutMs: 500,
      }),
      (err: Error & { code?: string; logTail?: string }) => {
        assert.equal(err.code, 'SL_LAB_READY_TIMEOUT');
        pid = Number(/^(\d+)$/m.exec(err.logTail ?? '')?.[1]);
        return true;
      },
    );
    assert.ok(pid > 0);
    assert.equal(isAlive(pid), false);
  });

  it('restarts on the same command line with a new pid', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'restartable',
      command: process.execPath,
      args: ['-e', listener(port)],
      workDir: dir,
      ready: { port },
    });
    const first = proc.pid;
    await proc.restart();
    assert.notEqual(proc.pid, first);
    assert.equal(first !== undefined && isAlive(first), false);
    assert.equal(await probeTcp(port), true);
    await proc.stop();
    // Both incarnations appended to one log.
    assert.equal(readFileSync(proc.logPath, 'utf8').match(/^--- /gm)?.length, 2);
  });

  it('kills the whole process group (workers die with their master)', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'master',
      command: process.execPath,
      args: [
        '-e',
        `const w = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
         console.log('worker ' + w.pid); ${listener(port)}`,
      ],
      workDir: dir,
      ready: { port },
    });
    let worker = 0;
    await waitUntil('worker pid', async () => {
      worker = Number(/worker (\d+)/.exec(proc.logTail())?.[1] ?? 0);
      return worker > 0;
    });
    assert.equal(isAlive(worker), true);
    await proc.stop();
    await waitUntil('worker gone', async () => !isAlive(worker), { timeoutMs: 2000 });
  });
});

describe('no orphans', { timeout: 20_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'socketlens-orphan-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a parent Node process that starts a sleeper via startProcess and prints its pid. */
  function parentScript(then: string): string {
    return `import { startProcess } from ${JSON.stringify(processModule)};
      const p = await startProcess({ name: 'sleeper', command: process.execPath,
        args: ['-e', 'setInterval(() => {}, 1000)'], workDir: ${JSON.stringify(dir)} });
      console.log(p.pid);
      ${then}`;
  }

  it('kills children when the parent calls process.exit()', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', parentScript('process.exit(0);')],
        { timeout: 10_000 },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
    });
    const child = Number(stdout.trim());
    assert.ok(child > 0);
    await waitUntil('orphan gone', async () => !isAlive(child), { timeoutMs: 2000 });
  });

  it('kills children when the parent gets SIGTERM, and the parent still dies of it', async () => {
    const parent = spawn(
      process.execPath,
      ['--input-type=module', '-e', parentScript('setInterval(() => {}, 1000);')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const child = await new Promise<number>((resolve) => {
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    assert.equal(isAlive(child), true);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      parent.once('exit', (_c, s) => resolve(s)),
    );
    parent.kill('SIGTERM');
    assert.equal(
      await Promise.race([exited, sleep(5000, 'still running' as const, { ref: false })]),
      'SIGTERM',
    );
    await waitUntil('orphan gone', async () => !isAlive(child), { timeoutMs: 2000 });
  });
});
