// docker-compose.yml, checked offline: the v1 schema, pinned images, mounts that are the native
// lab's own files, and the wiring between services (who points at whom, on which port).
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { findBinary } from '../../lab/runner/binaries.js';
import { parseArgs } from '../../proxy/config/load.js';
import { envName } from '../../proxy/config/schema.js';
import { resolveSidecarConfig, SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import type { OptionSpec } from '../../proxy/config/schema.js';
import { configPath } from '../../lab/runner/paths.js';
import { templatePlaceholders } from '../../lab/runner/template.js';
import {
  bindMounts,
  COMPOSE_FILE,
  type ComposeConfig,
  type ComposeService,
  composeConfig,
  hostPathOf,
  ROOT,
  rawCompose,
  repoRelative,
  run,
  service,
} from './helpers.js';

const SERVICES = [
  'backend-1',
  'backend-2',
  'backend-3',
  'drills',
  'edge',
  'edge-cert',
  'grafana',
  'hop',
  'pool',
  'prometheus',
  'redis',
  'sidecar-1',
  'sidecar-2',
  'sidecar-3',
  'toxiproxy',
];

/** registry/name:1.2.3 with an optional v and suffix (-alpine, -bookworm-slim); never latest. */
const PINNED = /^[a-z0-9][a-z0-9./-]*:v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/;

function sidecarConfigOf(s: ComposeService) {
  return resolveSidecarConfig(parseArgs(s.command?.slice(1) ?? [], SIDECAR_OPTIONS), s.environment ?? {});
}

describe('docker-compose.yml', () => {
  it('passes `docker-compose config` (v1.29 schema) without warnings', async () => {
    const { result } = await composeConfig();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
  });

  it('has exactly the lab services', async () => {
    const { config } = await composeConfig();
    assert.deepEqual(Object.keys(config.services).sort(), SERVICES);
  });

  it('pins every image to an explicit version tag', async () => {
    const { config } = await composeConfig();
    for (const [name, s] of Object.entries(config.services)) {
      assert.ok(s.image, `${name} has no image`);
      assert.match(s.image, PINNED, `${name}: ${s.image}`);
      assert.doesNotMatch(s.image, /:latest$/, name);
    }
  });

  it('builds its own images from the repository Dockerfile, sidecar and lab targets', async () => {
    const { config } = await composeConfig();
    const built = Object.fromEntries(
      Object.entries(config.services)
        .filter(([, s]) => s.build)
        .map(([name, s]) => [name, `${repoRelative(s.build!.context) || '.'}#${s.build!.target}`]),
    );
    assert.deepEqual(built, {
      'backend-1': '.#lab',
      'backend-2': '.#lab',
      'backend-3': '.#lab',
      drills: '.#lab',
      'edge-cert': '.#lab',
      'sidecar-1': '.#sidecar',
      'sidecar-2': '.#sidecar',
      'sidecar-3': '.#sidecar',
    });
    assert.equal(service(config, 'sidecar-1').image, 'socketlens/sidecar:0.1.0');
    assert.equal(service(config, 'backend-1').image, 'socketlens/lab:0.1.0');
  });

  it('bind-mounts only paths that exist in the repository, all read-only', async () => {
    const { config } = await composeConfig();
    const mounts: string[] = [];
    for (const [name, s] of Object.entries(config.services)) {
      // The drills runner needs the repository and the Docker socket: its own test checks them.
      if (name === 'drills') continue;
      for (const m of bindMounts(s)) {
        statSync(m.source); // throws ENOENT with the path
        assert.equal(m.read_only, true, `${name}: ${m.source} is writable`);
        mounts.push(`${name} ${repoRelative(m.source)}`);
      }
    }
    assert.deepEqual(mounts.sort(), [
      'edge lab/configs/nginx/edge.conf.template',
      'edge-cert lab/compose/edge/make-cert.sh',
      'grafana dashboards',
      'grafana lab/compose/grafana/provisioning/dashboards',
      'grafana lab/compose/grafana/provisioning/datasources',
      'hop lab/compose/hop/supervise.sh',
      'hop lab/configs/haproxy/idle-hop.cfg.template',
      'pool lab/configs/haproxy/pool-hop.cfg.template',
      'prometheus dashboards/alerts',
      'prometheus lab/compose/prometheus/render-and-run.sh',
      'prometheus lab/configs/prometheus/prometheus.yml.template',
      'redis lab/configs/redis/redis.conf',
    ]);
  });

  it('mounts the very files the native lab renders (same path, same bytes), never a copy', async () => {
    const { config } = await composeConfig();
    const native: Record<string, string> = {
      edge: configPath('nginx', 'edge.conf.template'),
      hop: configPath('haproxy', 'idle-hop.cfg.template'),
      pool: configPath('haproxy', 'pool-hop.cfg.template'),
      prometheus: configPath('prometheus', 'prometheus.yml.template'),
      redis: configPath('redis', 'redis.conf'),
    };
    for (const [name, nativePath] of Object.entries(native)) {
      const fromConfigs = bindMounts(service(config, name)).filter((m) =>
        repoRelative(m.source).startsWith('lab/configs/'),
      );
      assert.equal(fromConfigs.length, 1, name);
      assert.equal(fromConfigs[0]!.source, nativePath, name);
      assert.ok(readFileSync(fromConfigs[0]!.source).equals(readFileSync(nativePath)), name);
    }
    // The raw file writes them relative to the repository, so a checkout anywhere works.
    const raw = rawCompose();
    for (const [name, s] of Object.entries(raw.services)) {
      if (name === 'drills') continue;
      for (const m of bindMounts(s)) assert.match(m.source, /^\.\/[a-z]/, `${name}: ${m.source}`);
    }
  });

  it('gives the nginx and HAProxy templates exactly their placeholders as environment', async () => {
    const { config } = await composeConfig();
    for (const [name, target] of [
      ['edge', '/etc/nginx/templates/edge.conf.template'],
      ['hop', '/usr/local/etc/haproxy/idle-hop.cfg'],
      ['pool', '/usr/local/etc/haproxy/pool-hop.cfg'],
    ] as const) {
      const s = service(config, name);
      const text = readFileSync(hostPathOf(s, target), 'utf8');
      assert.deepEqual(Object.keys(s.environment ?? {}).sort(), templatePlaceholders(text).sort(), name);
    }
    // The nginx image renders /etc/nginx/templates/*.template into conf.d, which its nginx.conf includes.
    const edge = service(config, 'edge');
    assert.deepEqual(edge.environment, {
      LISTEN_ADDR: '0.0.0.0',
      HTTPS_PORT: '8443',
      HTTP_PORT: '8080',
      UPSTREAM: 'sidecar-1:8080',
      TLS_CERT: '/etc/nginx/tls/edge.crt',
      TLS_KEY: '/etc/nginx/tls/edge.key',
      ACCESS_LOG: '/dev/stdout',
    });
    // HAProxy under the hop's supervisor (lab/compose/hop/supervise.sh), so it can be restarted
    // in place; the pool runs it directly.
    assert.deepEqual(service(config, 'hop').command, [
      'sh',
      '/etc/socketlens/supervise.sh',
      'run',
      'haproxy',
      '-db',
      '-f',
      '/usr/local/etc/haproxy/idle-hop.cfg',
    ]);
    assert.deepEqual(service(config, 'pool').command, [
      'haproxy',
      '-db',
      '-f',
      '/usr/local/etc/haproxy/pool-hop.cfg',
    ]);
    assert.equal(service(config, 'hop').environment?.IDLE_TIMEOUT, '5s');
  });

  it('wires each sidecar to its backend, and edge/hop/prometheus to the sidecars', async () => {
    const { config } = await composeConfig();
    const sidecars = ['sidecar-1', 'sidecar-2', 'sidecar-3'].map((n) => sidecarConfigOf(service(config, n)));
    assert.deepEqual(
      sidecars.map((s) => s.target.href),
      ['http://backend-1:3000/', 'http://backend-2:3000/', 'http://backend-3:3000/'],
    );
    for (const s of sidecars) {
      assert.deepEqual(s.listen, { host: '0.0.0.0', port: 8080 });
      assert.deepEqual(s.admin, { host: '0.0.0.0', port: 9464 });
    }
    // Backends listen where the sidecars send traffic, on every interface, and share Redis.
    for (const [name, node] of [
      ['backend-1', 'n1'],
      ['backend-2', 'n2'],
      ['backend-3', 'n3'],
    ] as const) {
      const s = service(config, name);
      assert.deepEqual(s.command, [
        'node',
        'dist/lab/backend/main.js',
        '--host',
        '0.0.0.0',
        '--port',
        '3000',
        '--node-id',
        node,
      ]);
      assert.equal(s.environment?.BACKEND_REDIS_URL, 'redis://redis:6379', name);
      assert.equal(s.environment?.BACKEND_REDIS_PREFIX, 'socketlens', name);
    }
    const [s1, s2] = sidecars;
    assert.equal(service(config, 'edge').environment?.UPSTREAM, `sidecar-1:${s1!.listen.port}`);
    assert.equal(service(config, 'hop').environment?.UPSTREAM, `sidecar-2:${s2!.listen.port}`);
    const targets = JSON.parse(service(config, 'prometheus').environment?.SIDECAR_TARGETS ?? '[]');
    assert.deepEqual(targets, ['sidecar-1:9464', 'sidecar-2:9464', 'sidecar-3:9464']);
    assert.deepEqual(service(config, 'toxiproxy').command, ['-host=0.0.0.0', '-port=8474']);
  });

  it('publishes loopback-only host ports: fixed for people, ephemeral for backend and proxy ports', async () => {
    const { config } = await composeConfig();
    const ports = Object.entries(config.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => `${name} ${p}`),
    );
    const toxiproxyRange = Array.from(
      { length: 10 },
      (_, i) => `toxiproxy 127.0.0.1:${20000 + i}:${20000 + i}/tcp`,
    );
    assert.deepEqual(
      ports.sort(),
      [
        'backend-1 127.0.0.1::3000/tcp',
        'backend-2 127.0.0.1::3000/tcp',
        'backend-3 127.0.0.1::3000/tcp',
        'edge 127.0.0.1:8080:8080/tcp',
        'edge 127.0.0.1:8443:8443/tcp',
        'grafana 127.0.0.1:3000:3000/tcp',
        'hop 127.0.0.1:8090:8080/tcp',
        'pool 127.0.0.1:8091:8080/tcp',
        'prometheus 127.0.0.1:9090:9090/tcp',
        'sidecar-1 127.0.0.1::8080/tcp',
        'sidecar-1 127.0.0.1:9464:9464/tcp',
        'sidecar-2 127.0.0.1::8080/tcp',
        'sidecar-2 127.0.0.1:9465:9464/tcp',
        'sidecar-3 127.0.0.1::8080/tcp',
        'sidecar-3 127.0.0.1:9466:9464/tcp',
        'toxiproxy 127.0.0.1:8474:8474/tcp',
        ...toxiproxyRange,
      ].sort(),
    );
  });

  it('passes every other sidecar option through from the shell, empty (= default) when unset', async () => {
    // Each sidecar's admin server answers its own service name (the DNS-rebinding guard).
    const fixed = [
      'SOCKETLENS_ADMIN',
      'SOCKETLENS_ADMIN_ALLOW_HOSTS',
      'SOCKETLENS_LISTEN',
      'SOCKETLENS_TARGET',
    ];
    const settable = (SIDECAR_OPTIONS as readonly OptionSpec[])
      .filter((o) => !o.noEnv && o.flag !== 'config')
      .map((o) => envName('SOCKETLENS', o.flag))
      .filter((n) => !fixed.includes(n))
      .sort();
    const { config } = await composeConfig();
    for (const name of ['sidecar-1', 'sidecar-2', 'sidecar-3']) {
      const env = service(config, name).environment ?? {};
      assert.deepEqual(Object.keys(env).sort(), [...fixed, ...settable].sort(), name);
      for (const k of settable) assert.equal(env[k], '', `${name} ${k}`);
    }
    // And a value set in the shell reaches both sidecars' resolved config.
    const env = {
      PATH: process.env.PATH,
      SOCKETLENS_HEARTBEAT_INTERVAL: '2s',
      SOCKETLENS_SLOW_CONSUMER: 'true',
    };
    const res = await run(findBinary('docker-compose'), ['-f', COMPOSE_FILE, 'config'], { env });
    assert.equal(res.code, 0, res.stderr);
    const withEnv = parse(res.stdout) as ComposeConfig;
    for (const name of ['sidecar-1', 'sidecar-2', 'sidecar-3']) {
      const c = sidecarConfigOf(service(withEnv, name));
      assert.equal(c.heartbeatInterval, 2000, name);
      assert.equal(c.slowConsumer, true, name);
    }
  });

  it("runs the drills from a container only on demand, whatever the caller's PWD", async () => {
    const { config } = await composeConfig();
    const drills = config.services.drills as unknown as {
      profiles: string[];
      network_mode: string;
      command: string[];
      environment: Record<string, string>;
      volumes: Array<{ source: string; target: string }>;
    };
    assert.deepEqual(drills.profiles, ['drills']);
    assert.equal(drills.network_mode, 'host');
    // The checkout at a fixed path; its host path comes from the container's compose labels.
    assert.equal(drills.environment.SOCKETLENS_COMPOSE_FILE, '/socketlens/docker-compose.yml');
    assert.equal(drills.environment.SOCKETLENS_COMPOSE_DIR, undefined);
    assert.deepEqual(drills.command, [
      'node',
      'bin/socketlens.js',
      'lab',
      '--env',
      'compose',
      '--report',
      '/socketlens/lab-report',
    ]);
    assert.deepEqual(
      drills.volumes.map((v) => [v.source, v.target]),
      [
        [ROOT, '/socketlens'],
        ['/var/run/docker.sock', '/var/run/docker.sock'],
      ],
    );
    // Nothing in the file depends on the caller's shell directory.
    assert.doesNotMatch(readFileSync(COMPOSE_FILE, 'utf8'), /\$\{?PWD/);
    const elsewhere = await run(findBinary('docker-compose'), ['-f', COMPOSE_FILE, 'config'], {
      env: { PATH: process.env.PATH },
      cwd: '/',
    });
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    // The edge and its cert step share one cert volume.
    const tls = (name: string) =>
      (service(config, name).volumes ?? []).find((m) => m.type === 'volume')?.source;
    assert.equal(tls('edge-cert'), 'edge-tls');
    assert.equal(tls('edge'), 'edge-tls');
    assert.deepEqual(service(config, 'edge').depends_on?.['edge-cert'], {
      condition: 'service_completed_successfully',
    });
  });
});
