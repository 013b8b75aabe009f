// The edge and hop configs exactly as their compose services get them, checked by the real
// nginx (`nginx -t`) and HAProxy (`haproxy -c`), plus the cert step the edge depends on.
//
// One substitution: UPSTREAM (sidecar-1:8080 / sidecar-2:8080) names a compose service that
// only resolves on the compose network, and both programs resolve upstreams while checking;
// it is replaced by 127.0.0.1 on the same port. Everything else is the compose value.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findBinary } from '../../lab/runner/binaries.js';
import { configPath } from '../../lab/runner/paths.js';
import { freePort } from '../../lab/runner/ports.js';
import { renderTemplateFile } from '../../lab/runner/template.js';
import { composeConfig, hostPathFor, hostPathOf, portOf, ROOT, run, service } from './helpers.js';

const CERT_SCRIPT = join(ROOT, 'lab', 'compose', 'edge', 'make-cert.sh');
const SUPERVISOR = join(ROOT, 'lab', 'compose', 'hop', 'supervise.sh');

async function waitFor(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('edge and hop as compose runs them', { timeout: 30_000 }, () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'socketlens-compose-edge-'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('edge-cert runs make-cert.sh, which writes a P-256 cert for edge, localhost and 127.0.0.1 once', async () => {
    const { config } = await composeConfig();
    const certStep = service(config, 'edge-cert');
    assert.deepEqual(certStep.command, ['sh', '/etc/socketlens/make-cert.sh']);
    assert.equal(hostPathOf(certStep, '/etc/socketlens/make-cert.sh'), CERT_SCRIPT);

    const tls = join(dir, 'tls');
    const env = { PATH: process.env.PATH, TLS_DIR: tls };
    const first = await run('sh', [CERT_SCRIPT], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `edge-cert: wrote ${tls}/edge.crt\n`);
    assert.equal(statSync(join(tls, 'edge.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(tls, 'edge.crt')).mode & 0o777, 0o644);
    const cert = readFileSync(join(tls, 'edge.crt'));

    const second = await run('sh', [CERT_SCRIPT], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, `edge-cert: reusing ${tls}/edge.crt\n`);
    assert.ok(readFileSync(join(tls, 'edge.crt')).equals(cert), 'a second run must not replace the cert');

    const info = await run(findBinary('openssl'), [
      'x509',
      '-in',
      join(tls, 'edge.crt'),
      '-noout',
      '-subject',
      '-ext',
      'subjectAltName',
    ]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^subject=CN ?= ?localhost$/m);
    assert.match(info.stdout, /DNS:localhost, DNS:edge, IP Address:127\.0\.0\.1/);
    const key = await run(findBinary('openssl'), ['pkey', '-in', join(tls, 'edge.key'), '-noout', '-text']);
    assert.match(key.stdout, /ASN1 OID: prime256v1/);
  });

  it('nginx -t accepts edge.conf.template rendered with the edge service environment', async () => {
    const { config } = await composeConfig();
    const edge = service(config, 'edge');
    const env = { ...edge.environment };
    assert.equal(env.UPSTREAM, 'sidecar-1:8080');
    env.UPSTREAM = `127.0.0.1:${portOf(env.UPSTREAM)}`;
    // The cert paths are inside the edge-tls volume; point them at the cert made by make-cert.sh.
    assert.equal(hostPathFor(edge, env.TLS_CERT!), undefined, 'the cert comes from the volume');
    const tls = join(dir, 'nginx-tls');
    const made = await run('sh', [CERT_SCRIPT], { env: { PATH: process.env.PATH, TLS_DIR: tls } });
    assert.equal(made.code, 0, made.stderr);
    env.TLS_CERT = join(tls, 'edge.crt');
    env.TLS_KEY = join(tls, 'edge.key');

    const work = join(dir, 'nginx');
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(work, 'tmp', sub), { recursive: true });
    }
    const edgeConf = join(work, 'edge.conf');
    writeFileSync(
      edgeConf,
      renderTemplateFile(hostPathOf(edge, '/etc/nginx/templates/edge.conf.template'), env),
    );
    const mainConf = join(work, 'nginx.conf');
    writeFileSync(
      mainConf,
      renderTemplateFile(configPath('nginx', 'runner-main.conf.template'), {
        WORK_DIR: work,
        USER_DIRECTIVE: userInfo().uid === 0 ? 'user root;' : '',
        EDGE_CONF: edgeConf,
      }),
    );
    const res = await run(
      findBinary('nginx'),
      ['-t', '-p', `${work}/`, '-c', mainConf, '-e', join(work, 'error.log')],
      { stdoutFile: join(work, 'stdout') },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /test is successful/);
  });

  it('haproxy -c accepts idle-hop.cfg.template with the hop service environment', async () => {
    const { config } = await composeConfig();
    const hop = service(config, 'hop');
    const env = { ...hop.environment };
    assert.equal(env.UPSTREAM, 'sidecar-2:8080');
    env.UPSTREAM = `127.0.0.1:${portOf(env.UPSTREAM)}`;
    // HAProxy expands "${VAR}" itself: the mounted file is passed as is, the values as environment.
    const cfg = hostPathOf(hop, '/usr/local/etc/haproxy/idle-hop.cfg');
    const res = await run(findBinary('haproxy'), ['-c', '-f', cfg], {
      env: { PATH: process.env.PATH, ...env },
    });
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /Configuration file is valid/);
  });
});

describe('the hop supervisor (lab/compose/hop/supervise.sh) with the real HAProxy', {
  timeout: 30_000,
}, () => {
  it('restarts HAProxy in place: held connections drop at once, then a new HAProxy serves on the same port', async () => {
    const { config } = await composeConfig();
    const hop = service(config, 'hop');
    assert.equal(hostPathOf(hop, '/etc/socketlens/supervise.sh'), SUPERVISOR);
    const state = mkdtempSync(join(tmpdir(), 'socketlens-hop-sup-'));
    const upstream = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = await freePort('127.0.0.1');
    const env = {
      PATH: process.env.PATH,
      ...hop.environment,
      LISTEN_ADDR: '127.0.0.1',
      LISTEN_PORT: String(port),
      UPSTREAM: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      HOP_STATE_DIR: state,
    };
    const args = hop
      .command!.slice(1)
      .map((a) =>
        a === '/usr/local/etc/haproxy/idle-hop.cfg'
          ? hostPathOf(hop, a)
          : a === 'haproxy'
            ? findBinary('haproxy')
            : a,
      );
    const supervisor = spawn('sh', [SUPERVISOR, ...args.slice(1)], { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => supervisor.once('exit', (code) => r(code)));
    const get = async () =>
      (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).status;
    const pid = () => readFileSync(join(state, 'hop-haproxy.pid'), 'utf8').trim();
    try {
      await waitFor(async () => (await get().catch(() => 0)) === 200);
      const first = pid();
      // A client connection HAProxy holds (no request yet: it waits up to IDLE_TIMEOUT, 5 s).
      const held = net.connect(port, '127.0.0.1');
      await new Promise((r) => held.once('connect', r));
      const dropped = new Promise<number>((r) => {
        const t0 = performance.now();
        held.once('close', () => r(performance.now() - t0));
      });
      held.on('error', () => {});
      const res = await run('sh', [SUPERVISOR, 'restart'], { env });
      assert.equal(res.code, 0, res.stderr);
      assert.ok((await dropped) < 2000, 'the held connection was not dropped at once');
      assert.notEqual(pid(), first, 'no new HAProxy');
      await waitFor(async () => (await get().catch(() => 0)) === 200);
      // The supervisor itself stays: only HAProxy was replaced.
      assert.equal(supervisor.exitCode, null);
    } finally {
      supervisor.kill('SIGTERM');
      assert.equal(await exited, 0);
      upstream.close();
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("exits with HAProxy's status when HAProxy stops without a restart (a bad config stops the container)", async () => {
    const res = await run('sh', [SUPERVISOR, 'run', findBinary('haproxy'), '-db', '-f', '/nonexistent.cfg'], {
      env: { PATH: process.env.PATH, HOP_STATE_DIR: tmpdir() },
    });
    assert.notEqual(res.code, 0);
  });
});
