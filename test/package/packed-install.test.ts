/**
 * Installs socketlens the way a user does: pack a copy of the source tree (which builds itself on
 * pack), `npm install` the tarball into an empty directory, and run the installed command from
 * there. Needs the npm registry for the runtime dependencies, and the lab's real components.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { repoRoot } from '../../lab/runner/paths.js';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const run = promisify(execFile);
const ROOT = repoRoot();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string, args: string[], cwd: string, timeout = 240_000): Promise<Result> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, timeout, maxBuffer: 32 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The files git would give a fresh clone: tracked and untracked-but-not-ignored. */
async function sourceFiles(): Promise<string[]> {
  const r = await sh('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], ROOT);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\0').filter((f) => f !== '');
}

describe('the packed package, installed into an empty directory', { timeout: 600_000 }, () => {
  let work: string;
  let app: string;
  let tarball: string;
  let tarFiles: string[];
  let bin: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'socketlens-pack-'));
    // A clone without dist/: `npm pack` must build it (prepare). node_modules is linked, as
    // `npm ci` would have installed it.
    const clone = join(work, 'clone');
    for (const f of await sourceFiles()) cpSync(join(ROOT, f), join(clone, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const pack = await sh('npm', ['pack', '--json', '--pack-destination', work], clone);
    assert.equal(pack.code, 0, `npm pack failed: ${pack.stderr.slice(-2000)}`);
    const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = join(work, info[0]!.filename);
    tarFiles = info[0]!.files.map((f) => f.path);
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"app","private":true}\n');
    const install = await sh('npm', ['install', '--no-audit', '--no-fund', tarball], app);
    assert.equal(install.code, 0, `npm install failed: ${install.stderr.slice(-2000)}`);
    bin = join(app, 'node_modules', '.bin', 'socketlens');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built JavaScript, and no source maps without their sources', () => {
    for (const f of [
      'bin/socketlens.js',
      'dist/cli/main.js',
      'dist/proxy/sidecar.js',
      'dist/doctor/run-doctor.js',
      'dist/lab/lab.js',
    ])
      assert.ok(tarFiles.includes(f), `${f} is missing from the tarball`);
    assert.deepEqual(
      tarFiles.filter((f) => f.endsWith('.map') || f.endsWith('.ts') || f.startsWith('dist/test/')),
      [],
    );
  });

  it('installs only the sidecar runtime: the lab packages stay optional', () => {
    const installed = readdirSync(join(app, 'node_modules'));
    for (const lab of ['ws', 'redis', 'toxiproxy-node-client', 'docker-compose'])
      assert.ok(!installed.includes(lab), `${lab} was installed with the sidecar`);
  });

  it('answers --help for the command and each subcommand', async () => {
    const top = await sh('npx', ['socketlens', '--help'], app);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /^ {2}proxy {4}/m);
    for (const sub of ['proxy', 'doctor', 'lab']) {
      const r = await sh('npx', ['socketlens', sub, '--help'], app);
      assert.equal(r.code, 0, `${sub} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: socketlens ${sub}`, 'm'));
    }
  });

  it('relays a WebSocket message through the installed sidecar, and /metrics counts it', async () => {
    const backend = await startWsBackend();
    const sidecar = await spawnSidecar(backend.port, { bin });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/chat`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send('hello');
      const echo = await new Promise<string>((resolve) =>
        ws.once('message', (data) => resolve(String(data))),
      );
      assert.equal(echo, 'hello');
      ws.close(1000);
      await new Promise((resolve) => ws.once('close', resolve));
      assert.equal(await sidecar.metric('ws_messages_received_total'), 1);
      assert.equal(await sidecar.metric('ws_messages_sent_total'), 1);
    } finally {
      await sidecar.stop();
      await backend.close();
    }
  });

  it('says in one line what the lab needs when its packages are not installed', async () => {
    const r = await sh('npx', ['socketlens', 'lab', '--drill', 'rejected-upgrade'], app);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'socketlens lab: needs ws, redis, toxiproxy-node-client, not installed with socketlens by default; install with: npm install ws@8.23.0 redis@5.9.0 toxiproxy-node-client@4.1.0',
    );
  });

  it('runs the rejected-upgrade drill from the installed CLI once the lab packages are added', async () => {
    const add = await sh(
      'npm',
      ['install', '--no-audit', '--no-fund', 'ws@8.23.0', 'redis@5.9.0', 'toxiproxy-node-client@4.1.0'],
      app,
    );
    assert.equal(add.code, 0, add.stderr.slice(-2000));
    const r = await sh(
      'npx',
      ['socketlens', 'lab', '--drill', 'rejected-upgrade', '--report', join(work, 'report')],
      app,
      300_000,
    );
    assert.equal(r.code, 0, `lab failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /^rejected-upgrade │ ✓ +│ ✓ +│ ✓ +│/m);
    assert.match(r.stdout, /^all drills passed$/m);
  });
});
