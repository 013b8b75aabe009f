// lab/env/compose.ts (the drills' compose environment) and docker-compose.yml agree, offline:
// the file compose.ts opens, every service it starts, every container port it asks
// `docker compose port` about, and every variable it sets when it recreates a service.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  COMPOSE_FILE as ENV_COMPOSE_FILE,
  COMPOSE_PORTS,
  COMPOSE_SERVICES,
  COMPOSE_VARIABLES,
  ComposeEnvironment,
  defaultsEnv,
  ownContainerId,
  REDIS_URL,
  sidecarEnv,
  sidecarOverrideEnv,
} from '../../lab/env/compose.js';
import { findBinary } from '../../lab/runner/binaries.js';
import { SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import type { OptionSpec } from '../../proxy/config/schema.js';
import {
  COMPOSE_FILE,
  type ComposeConfig,
  type ComposeService,
  composeConfig,
  ROOT,
  run,
  service,
} from './helpers.js';

/** Container ports a service publishes (`docker-compose config` prints host:host_port:container/tcp). */
function publishedContainerPorts(s: ComposeService): number[] {
  return (s.ports ?? []).map((p) => Number(/:(\d+)\/tcp$/.exec(p)?.[1]));
}

async function configWith(env: Record<string, string>): Promise<ComposeConfig> {
  const res = await run(findBinary('docker-compose'), ['-f', COMPOSE_FILE, 'config'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  assert.equal(res.code, 0, res.stderr);
  return parse(res.stdout) as ComposeConfig;
}

describe('lab/env/compose.ts against docker-compose.yml', () => {
  it('opens the compose file at the repository root', () => {
    assert.equal(join(ROOT, ENV_COMPOSE_FILE), COMPOSE_FILE);
    assert.ok(existsSync(COMPOSE_FILE));
    // The default working directory is the repository root, not lab/compose.
    assert.doesNotThrow(() => new ComposeEnvironment());
  });

  it('uses only services the file defines', async () => {
    const { config } = await composeConfig();
    const used = Object.values(COMPOSE_SERVICES).flatMap((v) => (typeof v === 'string' ? [v] : [...v]));
    for (const name of used)
      assert.ok(config.services[name], `compose.ts uses ${name}, the file has no such service`);
  });

  it('asks only for container ports the services publish', async () => {
    const { config } = await composeConfig();
    const asked: Array<[string, number]> = [
      ...COMPOSE_SERVICES.backends.map((b) => [b, COMPOSE_PORTS.backend] as [string, number]),
      ...COMPOSE_SERVICES.sidecars.flatMap((s) => [
        [s, COMPOSE_PORTS.sidecar] as [string, number],
        [s, COMPOSE_PORTS.sidecarAdmin] as [string, number],
      ]),
      [COMPOSE_SERVICES.edge, COMPOSE_PORTS.edgeHttp],
      [COMPOSE_SERVICES.edge, COMPOSE_PORTS.edgeHttps],
      [COMPOSE_SERVICES.hop, COMPOSE_PORTS.hop],
      [COMPOSE_SERVICES.pool, COMPOSE_PORTS.pool],
      [COMPOSE_SERVICES.toxiproxy, COMPOSE_PORTS.toxiproxyApi],
      ...Array.from(
        { length: COMPOSE_PORTS.toxiproxyProxies.count },
        (_, i) => [COMPOSE_SERVICES.toxiproxy, COMPOSE_PORTS.toxiproxyProxies.first + i] as [string, number],
      ),
    ];
    for (const [name, port] of asked) {
      assert.ok(
        publishedContainerPorts(service(config, name)).includes(port),
        `${name} does not publish ${port}`,
      );
    }
    // The toxiproxy range is published on the same numbers: the proxy listens on them inside.
    const tp = service(config, COMPOSE_SERVICES.toxiproxy).ports ?? [];
    for (let i = 0; i < COMPOSE_PORTS.toxiproxyProxies.count; i++) {
      const p = COMPOSE_PORTS.toxiproxyProxies.first + i;
      assert.ok(tp.includes(`127.0.0.1:${p}:${p}/tcp`), `toxiproxy ${p}`);
    }
  });

  it('listens where compose.ts expects: edge, hop, pool, sidecars, backends', async () => {
    const { config } = await composeConfig();
    const edge = service(config, COMPOSE_SERVICES.edge).environment ?? {};
    assert.equal(Number(edge.HTTP_PORT), COMPOSE_PORTS.edgeHttp);
    assert.equal(Number(edge.HTTPS_PORT), COMPOSE_PORTS.edgeHttps);
    assert.equal(Number(service(config, COMPOSE_SERVICES.hop).environment?.LISTEN_PORT), COMPOSE_PORTS.hop);
    const pool = service(config, COMPOSE_SERVICES.pool).environment ?? {};
    assert.equal(Number(pool.LISTEN_PORT), COMPOSE_PORTS.pool);
    // The pool health-checks each sidecar on the admin port compose.ts hands out.
    assert.equal(Number(pool.CHECK_PORT_1), COMPOSE_PORTS.sidecarAdmin);
    assert.equal(Number(pool.CHECK_PORT_2), COMPOSE_PORTS.sidecarAdmin);
    COMPOSE_SERVICES.sidecars.forEach((name, k) => {
      const env = service(config, name).environment ?? {};
      assert.equal(env.SOCKETLENS_LISTEN, `0.0.0.0:${COMPOSE_PORTS.sidecar}`);
      assert.equal(env.SOCKETLENS_ADMIN, `0.0.0.0:${COMPOSE_PORTS.sidecarAdmin}`);
      // By default sidecars[k] fronts backends[k]; a drill points it anywhere with SIDECAR_K_TARGET.
      assert.equal(env.SOCKETLENS_TARGET, `http://${COMPOSE_SERVICES.backends[k]}:${COMPOSE_PORTS.backend}`);
    });
    for (const name of COMPOSE_SERVICES.backends) {
      const cmd = service(config, name).command ?? [];
      assert.equal(cmd[cmd.indexOf('--port') + 1], String(COMPOSE_PORTS.backend), name);
    }
  });

  it('reads every variable compose.ts sets, and each one reaches its service', async () => {
    const raw = readFileSync(COMPOSE_FILE, 'utf8');
    const names = Object.keys(defaultsEnv()).filter((n) => !n.startsWith('SOCKETLENS_'));
    assert.equal(names.length, 3 * 3 + 3 + 4 + 4);
    for (const v of names)
      assert.match(raw, new RegExp(`\\$\\{${v}[:}-]`), `docker-compose.yml never reads ${v}`);
    assert.doesNotMatch(raw, /HOP_IDLE_TIMEOUT/, 'the hop variable is IDLE_TIMEOUT');
    const config = await configWith({
      [COMPOSE_VARIABLES.hopIdleTimeout]: '1234ms',
      [COMPOSE_VARIABLES.hopUpstream]: 'sidecar-1:8080',
      [COMPOSE_VARIABLES.edgeUpstream]: 'sidecar-2:8080',
      [COMPOSE_VARIABLES.backendHeartbeat('backend-2')]: '0',
      [COMPOSE_VARIABLES.backendRedisUrl('backend-2')]: '',
      [COMPOSE_VARIABLES.backendApp('backend-3')]: 'socketio',
      [COMPOSE_VARIABLES.backendRedisPrefix]: 'lab42',
      [COMPOSE_VARIABLES.sidecarTarget('sidecar-3')]: 'http://toxiproxy:20001',
      [COMPOSE_VARIABLES.poolServer(1)]: 'sidecar-2:8080',
      [COMPOSE_VARIABLES.poolCheckHost(1)]: 'sidecar-2',
      [COMPOSE_VARIABLES.poolServer(2)]: 'sidecar-3:8080',
      [COMPOSE_VARIABLES.poolCheckHost(2)]: 'sidecar-3',
    });
    const pool = service(config, COMPOSE_SERVICES.pool).environment ?? {};
    assert.deepEqual(
      [pool.SERVER_1, pool.CHECK_HOST_1, pool.SERVER_2, pool.CHECK_HOST_2],
      ['sidecar-2:8080', 'sidecar-2', 'sidecar-3:8080', 'sidecar-3'],
    );
    const hop = service(config, COMPOSE_SERVICES.hop).environment ?? {};
    assert.equal(hop.IDLE_TIMEOUT, '1234ms');
    assert.equal(hop.UPSTREAM, 'sidecar-1:8080');
    assert.equal(service(config, COMPOSE_SERVICES.edge).environment?.UPSTREAM, 'sidecar-2:8080');
    // Only backend-2 was given values; the others keep the file's defaults (Redis bus on).
    const [b1, b2, b3] = COMPOSE_SERVICES.backends.map((b) => service(config, b).environment ?? {});
    assert.deepEqual(
      [b1?.BACKEND_HEARTBEAT_MS, b2?.BACKEND_HEARTBEAT_MS, b3?.BACKEND_HEARTBEAT_MS],
      ['', '0', ''],
    );
    assert.deepEqual(
      [b1?.BACKEND_REDIS_URL, b2?.BACKEND_REDIS_URL, b3?.BACKEND_REDIS_URL],
      [REDIS_URL, '', REDIS_URL],
    );
    assert.deepEqual([b1?.BACKEND_APP, b2?.BACKEND_APP, b3?.BACKEND_APP], ['', '', 'socketio']);
    for (const b of [b1, b2, b3]) assert.equal(b?.BACKEND_REDIS_PREFIX, 'lab42');
    const targets = COMPOSE_SERVICES.sidecars.map((s) => service(config, s).environment?.SOCKETLENS_TARGET);
    assert.deepEqual(targets, ['http://backend-1:3000', 'http://backend-2:3000', 'http://toxiproxy:20001']);
    // The blank defaults compose.ts passes when it puts a service back give the file's values.
    const restored = await configWith(defaultsEnv());
    for (const [k, s] of COMPOSE_SERVICES.sidecars.entries()) {
      assert.equal(service(restored, s).environment?.SOCKETLENS_TARGET, `http://backend-${k + 1}:3000`);
    }
    assert.equal(service(restored, COMPOSE_SERVICES.hop).environment?.IDLE_TIMEOUT, '5s');
    const restoredPool = service(restored, COMPOSE_SERVICES.pool).environment ?? {};
    assert.deepEqual(
      [restoredPool.SERVER_1, restoredPool.CHECK_HOST_1, restoredPool.SERVER_2, restoredPool.CHECK_HOST_2],
      ['sidecar-1:8080', 'sidecar-1', 'sidecar-2:8080', 'sidecar-2'],
    );
    assert.equal(service(restored, COMPOSE_SERVICES.edge).environment?.UPSTREAM, 'sidecar-1:8080');
    for (const b of COMPOSE_SERVICES.backends) {
      assert.equal(service(restored, b).environment?.BACKEND_REDIS_URL, REDIS_URL, b);
      assert.equal(service(restored, b).environment?.BACKEND_REDIS_PREFIX, 'socketlens', b);
    }
  });

  it('finds its own container from mountinfo (the drills service)', () => {
    const id = 'a'.repeat(64);
    const mountinfo = [
      '712 700 0:64 / / rw,relatime master:1 - overlay overlay rw',
      `731 712 254:1 /var/lib/docker/containers/${id}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw`,
      `733 712 254:1 /var/lib/docker/containers/${id}/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw`,
    ].join('\n');
    assert.equal(ownContainerId(mountinfo), id);
    assert.equal(ownContainerId('712 700 0:64 / / rw,relatime - ext4 /dev/vda rw'), null);
  });

  it('passes sidecar overrides as SOCKETLENS_* variables the sidecars read', async () => {
    const overrides = {
      heartbeatInterval: 1000,
      heartbeatMisses: 2,
      slowConsumer: true,
      maxBufferBytes: 65536,
      allowOrigin: ['https://a.example', 'https://b.example'],
      jwtKey: 'secret',
      maxConnectionAge: 0,
    };
    const env = sidecarOverrideEnv(overrides);
    assert.equal(env.SOCKETLENS_ALLOW_ORIGIN, 'https://a.example,https://b.example');
    const { config } = await composeConfig();
    // Every option a drill may override (all but target/listen/admin/config) has its variable.
    const all = Object.fromEntries(
      (SIDECAR_OPTIONS as readonly OptionSpec[])
        .filter((o) => !o.noEnv && !['target', 'listen', 'admin', 'config'].includes(o.flag))
        .map((o) => [o.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), 1]),
    );
    for (const name of Object.keys(sidecarOverrideEnv(all))) {
      for (const s of COMPOSE_SERVICES.sidecars) {
        assert.ok(name in (service(config, s).environment ?? {}), `${s} does not read ${name}`);
      }
    }
    // Options the drill did not give are blanked, so the caller's shell cannot leak into a drill.
    const full = sidecarEnv({ heartbeatInterval: 1000 });
    assert.equal(full.SOCKETLENS_HEARTBEAT_INTERVAL, '1000');
    assert.equal(full.SOCKETLENS_SLOW_CONSUMER, '');
    assert.deepEqual(Object.keys(full).sort(), Object.keys(sidecarOverrideEnv(all)).sort());
    const withEnv = await configWith(env);
    for (const s of COMPOSE_SERVICES.sidecars) {
      const e = service(withEnv, s).environment ?? {};
      for (const [k, v] of Object.entries(env)) assert.equal(e[k], v, `${s} ${k}`);
    }
  });
});
