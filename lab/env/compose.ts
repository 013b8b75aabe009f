/**
 * The compose lab environment: the same LabEnvironment, mapped onto the services of the
 * repository's docker-compose.yml instead of child processes.
 *
 * The drills run on the host (`socketlens lab --env compose`) or in the file's `drills` container
 * (through the Docker socket). This class drives the stack with the `docker compose` CLI
 * (compose-cli.ts) and reaches every service through its published loopback port.
 *
 * Mapping (service names, container ports and variables are exported below; an offline test
 * checks each of them against docker-compose.yml):
 *
 *   backend({redis, heartbeatIntervalMs}) -> the next free backend-K (3000), recreated with
 *                                            BACKEND_K_REDIS_URL ('' = no Redis bus),
 *                                            BACKEND_K_HEARTBEAT_MS and a fresh BACKEND_REDIS_PREFIX
 *   socketioApp()                         -> the next free backend-K, recreated with BACKEND_K_APP=socketio
 *                                            (the real Socket.IO app of lab/backend/socketio-app.ts)
 *   sidecar(target, overrides)            -> the next free sidecar-K (8080, admin 9464), recreated
 *                                            with SIDECAR_K_TARGET = the target's in-network address
 *                                            (a backend, a Toxiproxy link, anything handed out) and
 *                                            the overrides as SOCKETLENS_* (the others blanked)
 *   edge(upstream)                        -> edge (nginx; http 8080, https 8443) with EDGE_UPSTREAM
 *   hop(upstream, idle)                   -> hop (HAProxy, 8080) with HOP_UPSTREAM and IDLE_TIMEOUT;
 *                                            restart() = HAProxy's hard stop and a new HAProxy in the
 *                                            same container (lab/compose/hop/supervise.sh), so the
 *                                            hop's address stays up and refuses until it listens
 *   pool([s1, s2])                        -> pool (HAProxy, 8080) with POOL_SERVER_K and
 *                                            POOL_CHECK_HOST_K: the two sidecars, each checked on
 *                                            its admin /readyz (9464)
 *   faultLink(name, upstream)             -> a proxy on toxiproxy (API 8474), ports 20000-20009
 *
 * What the lab leaves alone: it recreates only the services a drill asks for, waits for them on
 * their own published endpoints (not on Docker's health-check interval), never stops a service,
 * and never runs `docker compose down`. close() puts every service it recreated back to the
 * file's configuration, so Prometheus (which keeps every drill's series) and Grafana see the
 * stack as the user started it.
 *
 * Addresses handed to a drill are the containers' own (172.x.y.z:<port>) where the host routes to
 * the compose network (Linux), else published host addresses (127.0.0.1:<published>); when a
 * drill passes one back as an upstream or target, it is translated to the service's address on the
 * compose network (e.g. sidecar-2:8080), since nginx, HAProxy, Toxiproxy and the sidecars dial from
 * inside it.
 * Metrics are scraped from the sidecar's admin /metrics; the close log is the sidecar's stdout,
 * read with `docker compose logs` (each scope recreates the sidecars, so the log is the scope's).
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { BackendStats } from '../backend/stats.js';
import { LabError } from '../runner/errors.js';
import { repoRoot } from '../runner/paths.js';
import { envName, type OptionSpec } from '../../proxy/config/schema.js';
import { SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { drainOverAdmin } from './admin-drain.js';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import { ComposeCli, runDocker } from './compose-cli.js';
import type {
  LabApp,
  LabBackendNode,
  LabEdge,
  LabEnvironment,
  LabFaultLink,
  LabHop,
  LabPool,
  LabSidecar,
  SidecarOverrides,
} from './types.js';

/** The compose file, relative to the repository root. */
export const COMPOSE_FILE = 'docker-compose.yml';

/**
 * Service name of each role, as written in docker-compose.yml. Backends and sidecars are pools:
 * a drill gets the next free one of its scope, so a drill may use up to three of each (e.g. two
 * sidecars in front of one backend, or a sidecar behind a Toxiproxy link).
 */
export const COMPOSE_SERVICES = {
  backends: ['backend-1', 'backend-2', 'backend-3'],
  sidecars: ['sidecar-1', 'sidecar-2', 'sidecar-3'],
  edge: 'edge',
  edgeCert: 'edge-cert',
  hop: 'hop',
  pool: 'pool',
  toxiproxy: 'toxiproxy',
  redis: 'redis',
} as const;

/** Container ports this class looks up; each must be published. */
export const COMPOSE_PORTS = {
  backend: 3000,
  redis: 6379,
  sidecar: 8080,
  sidecarAdmin: 9464,
  edgeHttp: 8080,
  edgeHttps: 8443,
  hop: 8080,
  pool: 8080,
  toxiproxyApi: 8474,
  /** Toxiproxy proxies listen on these ports inside the container, published on the same numbers. */
  toxiproxyProxies: { first: 20000, count: 10 },
} as const;

/** `backend-2` -> 2 */
function ordinal(service: string): number {
  return Number(service.slice(service.lastIndexOf('-') + 1));
}

/** Variables this class sets when it (re)creates a service; docker-compose.yml must read them. */
export const COMPOSE_VARIABLES = {
  /** Redis URL of backend-K; empty = the in-process bus. */
  backendRedisUrl: (backend: string) => `BACKEND_${ordinal(backend)}_REDIS_URL`,
  /** WebSocket ping interval of backend-K in ms (0 = off). */
  backendHeartbeat: (backend: string) => `BACKEND_${ordinal(backend)}_HEARTBEAT_MS`,
  /** What backend-K runs: '' = the demo backend, 'socketio' = the Socket.IO app. */
  backendApp: (backend: string) => `BACKEND_${ordinal(backend)}_APP`,
  /** Redis key/channel prefix, fresh for each scope (shared by the backends of that scope). */
  backendRedisPrefix: 'BACKEND_REDIS_PREFIX',
  /** What sidecar-K forwards to (http://host:port on the compose network). */
  sidecarTarget: (sidecar: string) => `SIDECAR_${ordinal(sidecar)}_TARGET`,
  edgeUpstream: 'EDGE_UPSTREAM',
  hopUpstream: 'HOP_UPSTREAM',
  hopIdleTimeout: 'IDLE_TIMEOUT',
  /** host:port of the pool's K-th server (1 or 2), on the compose network. */
  poolServer: (k: 1 | 2) => `POOL_SERVER_${k}`,
  /** Host the pool health-checks its K-th server on (its admin /readyz, port 9464). */
  poolCheckHost: (k: 1 | 2) => `POOL_CHECK_HOST_${k}`,
} as const;

/** The hop's supervisor inside its container (docker-compose.yml mounts lab/compose/hop/supervise.sh). */
export const HOP_SUPERVISOR = '/etc/socketlens/supervise.sh';

/** In-network Redis URL the backends use when a drill asks for the bus. */
export const REDIS_URL = `redis://${COMPOSE_SERVICES.redis}:${COMPOSE_PORTS.redis}`;

/** Sidecar options a drill may override: all but where it listens and what it fronts. */
const OVERRIDABLE = (SIDECAR_OPTIONS as readonly OptionSpec[]).filter(
  (o) => !o.noEnv && !['target', 'listen', 'admin', 'config'].includes(o.flag),
);

/** The SOCKETLENS_* variables that carry sidecar overrides (only the options given). */
export function sidecarOverrideEnv(overrides: SidecarOverrides): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, v] of Object.entries(overrides)) {
    if (v === null || v === undefined) continue;
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    env[envName('SOCKETLENS', flag)] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return env;
}

/**
 * Every overridable SOCKETLENS_* variable: the drill's value, or '' (the sidecar's default), so a
 * value left in the caller's shell never leaks into a drill.
 */
export function sidecarEnv(overrides: SidecarOverrides): Record<string, string> {
  const env: Record<string, string> = {};
  for (const o of OVERRIDABLE) env[envName('SOCKETLENS', o.flag)] = '';
  return { ...env, ...sidecarOverrideEnv(overrides) };
}

/** The variables of every service this class touches, blank: the file's defaults apply. */
export function defaultsEnv(): Record<string, string> {
  const env: Record<string, string> = sidecarEnv({});
  for (const b of COMPOSE_SERVICES.backends) {
    env[COMPOSE_VARIABLES.backendRedisUrl(b)] = REDIS_URL;
    env[COMPOSE_VARIABLES.backendHeartbeat(b)] = '';
    env[COMPOSE_VARIABLES.backendApp(b)] = '';
  }
  for (const s of COMPOSE_SERVICES.sidecars) env[COMPOSE_VARIABLES.sidecarTarget(s)] = '';
  for (const v of [
    COMPOSE_VARIABLES.backendRedisPrefix,
    COMPOSE_VARIABLES.edgeUpstream,
    COMPOSE_VARIABLES.hopUpstream,
    COMPOSE_VARIABLES.hopIdleTimeout,
    COMPOSE_VARIABLES.poolServer(1),
    COMPOSE_VARIABLES.poolServer(2),
    COMPOSE_VARIABLES.poolCheckHost(1),
    COMPOSE_VARIABLES.poolCheckHost(2),
  ])
    env[v] = '';
  return env;
}

/** How long a recreated service may take to answer on its published port. */
const READY_TIMEOUT_MS = 60_000;

export interface ComposeEnvironmentOptions {
  /** Directory holding docker-compose.yml on the Docker host; default the repository root. */
  cwd?: string;
  /** The compose file, when it is read from elsewhere than cwd (the drills container). */
  file?: string;
  /** Compose project name; default compose's own. */
  projectName?: string;
  /** Host the published ports are reachable on; default LAB_BIND, else 127.0.0.1 (the file's default). */
  host?: string;
  /** Progress lines (what is recreated). */
  log?: (line: string) => void;
}

/** The id of the container this process runs in, or null on a host. */
export function ownContainerId(mountinfo?: string): string | null {
  let text = mountinfo;
  if (text === undefined) {
    if (!existsSync('/.dockerenv')) return null;
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return null;
    }
  }
  // Docker bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf from its container dir.
  return /\/containers\/([0-9a-f]{64})\/(?:hosts|hostname|resolv\.conf)\b/.exec(text)?.[1] ?? null;
}

interface ComposeContext {
  cli: ComposeCli;
}

/**
 * Where the compose project is: the explicit options, SOCKETLENS_COMPOSE_DIR, or, in a container
 * started by compose (the `drills` service), the project directory and name compose wrote on that
 * container's labels; on a host, the repository root.
 */
async function resolveContext(opts: ComposeEnvironmentOptions): Promise<ComposeContext> {
  let projectDir = opts.cwd ?? process.env.SOCKETLENS_COMPOSE_DIR;
  let projectName = opts.projectName ?? process.env.SOCKETLENS_COMPOSE_PROJECT;
  const file = opts.file ?? process.env.SOCKETLENS_COMPOSE_FILE;
  const self = projectDir ? null : ownContainerId();
  if (self) {
    const { stdout } = await runDocker(['inspect', '-f', '{{json .Config.Labels}}', self]);
    const labels = JSON.parse(stdout) as Record<string, string> | null;
    projectDir = labels?.['com.docker.compose.project.working_dir'];
    projectName ??= labels?.['com.docker.compose.project'];
    if (!projectDir) {
      throw new LabError(
        'SL_LAB_COMPOSE',
        'compose lab: this container was not started by docker compose; set SOCKETLENS_COMPOSE_DIR to the host directory of docker-compose.yml',
      );
    }
  }
  projectDir ??= repoRoot();
  return {
    cli: new ComposeCli({
      projectDir,
      file: file ?? COMPOSE_FILE,
      ...(projectName ? { projectName } : {}),
    }),
  };
}

interface Publisher {
  TargetPort: number;
  PublishedPort: number;
}

export class ComposeEnvironment implements LabEnvironment {
  readonly kind = 'compose' as const;
  readonly #opts: ComposeEnvironmentOptions;
  readonly #host: string;
  #ctx: Promise<ComposeContext> | null = null;
  #reach: Promise<boolean> | null = null;
  /** Host address handed to a drill -> the same endpoint's address on the compose network. */
  #inNetwork = new Map<string, string>();
  #usedBackends = new Set<string>();
  #usedSidecars = new Set<string>();
  #links: Array<{ name: string; port: number }> = [];
  #toxi: Toxiproxy | null = null;
  #redisUp = false;
  #certMade = false;
  /** Every service recreated with a drill's configuration; close() puts them back. */
  #touched = new Set<string>();
  #scope = `lab${Date.now().toString(36)}`;
  #scopes = 0;

  constructor(opts: ComposeEnvironmentOptions = {}) {
    this.#opts = opts;
    // LAB_BIND moves the published ports (docker-compose.yml); 0.0.0.0 is reached on loopback.
    const bind = process.env.LAB_BIND;
    this.#host = opts.host ?? (bind && bind !== '0.0.0.0' ? bind : '127.0.0.1');
  }

  async #cli(): Promise<ComposeCli> {
    this.#ctx ??= resolveContext(this.#opts);
    return (await this.#ctx).cli;
  }

  #log(line: string): void {
    this.#opts.log?.(line);
  }

  /** The running container of a service, and the host port of each published container port. */
  async #publishers(service: string): Promise<{ id: string; ports: Map<number, number> }> {
    const cli = await this.#cli();
    const { stdout } = await cli.run(['ps', '--format', 'json', service]);
    const text = stdout.trim();
    // Compose prints one JSON object per line (older v2 releases: one array).
    const rows = (
      text === '' ? [] : text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((l) => JSON.parse(l))
    ) as Array<{ ID?: string; Service?: string; Publishers?: Publisher[] | null }>;
    const ports = new Map<number, number>();
    let id = '';
    for (const row of rows) {
      if (row.Service !== undefined && row.Service !== service) continue;
      id ||= row.ID ?? '';
      for (const p of row.Publishers ?? []) if (p.PublishedPort > 0) ports.set(p.TargetPort, p.PublishedPort);
    }
    return { id, ports };
  }

  /**
   * Whether this host routes to container addresses (Linux: the compose network is a local
   * bridge), probed once: a connection that is accepted or refused proves the route. Then clients
   * dial containers directly, like the services do among themselves, instead of through Docker's
   * userland port proxy, which adds a process hop (and latency under load) to every connection.
   * SOCKETLENS_COMPOSE_REACH=published|direct forces the choice.
   */
  #direct(ip: string, port: number): Promise<boolean> {
    this.#reach ??= (async () => {
      const forced = process.env.SOCKETLENS_COMPOSE_REACH;
      if (forced === 'published' || forced === 'direct') return forced === 'direct';
      if (process.platform !== 'linux') return false;
      const routed = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: ip, port, timeout: 1500 });
        const done = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.once('connect', () => done(true));
        socket.once('timeout', () => done(false));
        socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
      });
      this.#log(
        `clients reach the containers ${routed ? `directly (${ip} routed)` : 'through published ports'}`,
      );
      return routed;
    })();
    return this.#reach;
  }

  async #containerIp(id: string): Promise<string> {
    const { stdout } = await runDocker([
      'inspect',
      '-f',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
      id,
    ]);
    return stdout.trim().split(/\s+/)[0] ?? '';
  }

  /** Addresses clients use for a service's container ports: direct, or published on the host. */
  async #published(service: string, containerPorts: number[]): Promise<string[]> {
    const { id, ports } = await this.#publishers(service);
    const ip = id ? await this.#containerIp(id) : '';
    const direct = ip !== '' && (await this.#direct(ip, containerPorts[0]!));
    return containerPorts.map((containerPort) => {
      const hostPort = ports.get(containerPort);
      if (!hostPort) {
        throw new LabError(
          'SL_LAB_COMPOSE',
          `compose lab: ${service} does not publish ${containerPort} (is it running? \`docker compose ps ${service}\`)`,
        );
      }
      const address = direct ? `${ip}:${containerPort}` : `${this.#host}:${hostPort}`;
      this.#inNetwork.set(address, `${service}:${containerPort}`);
      return address;
    });
  }

  /** (Re)creates one service with its variables, leaving its dependencies as they are. */
  async #recreate(service: string, env: Record<string, string>): Promise<void> {
    const cli = await this.#cli();
    this.#touched.add(service);
    const t0 = performance.now();
    await cli.run(['up', '-d', '--no-deps', '--force-recreate', service], {
      env: { ...defaultsEnv(), ...env },
    });
    this.#log(`recreated ${service} (${Math.round(performance.now() - t0)} ms)`);
  }

  /**
   * Waits until `url` answers with an HTTP status `ready` accepts. Through a published port,
   * Docker's proxy accepts a connection before the container listens and then drops it, so only
   * a real HTTP answer counts.
   */
  async #ready(service: string, url: string, ready: (status: number) => boolean): Promise<void> {
    const end = performance.now() + READY_TIMEOUT_MS;
    let last = 'no answer';
    while (performance.now() < end) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        if (ready(res.status)) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const logs = await (await this.#cli())
      .run(['logs', '--tail', '20', '--no-log-prefix', service])
      .catch(() => null);
    throw new LabError(
      'SL_LAB_READY_TIMEOUT',
      `compose lab: ${service} did not answer ${url} within ${READY_TIMEOUT_MS} ms (last: ${last})`,
      logs ? { logTail: `${logs.stdout}${logs.stderr}`.trimEnd() } : {},
    );
  }

  #networkAddress(address: string, role: string): string {
    const bare = address.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
    const mapped = this.#inNetwork.get(bare);
    if (!mapped) {
      throw new LabError(
        'SL_LAB_COMPOSE',
        `compose lab: ${role} ${address} is not an address this environment handed out; pass a backend, sidecar, hop or link of the same scope`,
      );
    }
    return mapped;
  }

  #take(pool: readonly string[], used: Set<string>, role: string): string {
    const service = pool.find((s) => !used.has(s));
    if (!service) {
      throw new LabError(
        'SL_LAB_COMPOSE',
        `compose lab: a drill may use at most ${pool.length} ${role}s (${pool.join(', ')}); add a service to docker-compose.yml and to COMPOSE_SERVICES`,
      );
    }
    used.add(service);
    return service;
  }

  async backend(opts: {
    nodeId: string;
    redis?: boolean;
    heartbeatIntervalMs?: number;
  }): Promise<LabBackendNode> {
    const service = this.#take(COMPOSE_SERVICES.backends, this.#usedBackends, 'backend');
    if (opts.redis && !this.#redisUp) {
      // Started (not recreated) the first time: it keeps whatever the user's stack has in it.
      await (await this.#cli()).run(['up', '-d', '--wait', COMPOSE_SERVICES.redis]);
      this.#redisUp = true;
    }
    const { url, address } = await this.#startBackend(service, {
      [COMPOSE_VARIABLES.backendRedisUrl(service)]: opts.redis ? REDIS_URL : '',
      [COMPOSE_VARIABLES.backendHeartbeat(service)]: String(opts.heartbeatIntervalMs ?? 0),
      [COMPOSE_VARIABLES.backendApp(service)]: '',
      [COMPOSE_VARIABLES.backendRedisPrefix]: this.#scope,
    });
    return {
      // The node id is fixed by the compose file (n1, n2, n3); the drill's name is kept for its logs.
      nodeId: opts.nodeId,
      url,
      address,
      stats: async () => (await (await fetch(`${url}/stats`)).json()) as BackendStats,
      publish: async (room, data) => {
        const res = await fetch(`${url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ room, data }),
        });
        await res.body?.cancel();
      },
    };
  }

  /** Recreates backend-K with `vars` and waits until it answers /healthz on its published port. */
  async #startBackend(
    service: string,
    vars: Record<string, string>,
  ): Promise<{ url: string; address: string }> {
    await this.#recreate(service, vars);
    const [address] = await this.#published(service, [COMPOSE_PORTS.backend]);
    const url = `http://${address}`;
    await this.#ready(service, `${url}/healthz`, (s) => s === 200);
    return { url, address: address! };
  }

  async socketioApp(): Promise<LabApp> {
    const service = this.#take(COMPOSE_SERVICES.backends, this.#usedBackends, 'backend');
    const { url, address } = await this.#startBackend(service, {
      [COMPOSE_VARIABLES.backendApp(service)]: 'socketio',
    });
    return {
      url,
      address,
      closedOn: async () => (await (await fetch(`${url}/closed-on`)).json()) as string[],
    };
  }

  async sidecar(target: string, overrides: SidecarOverrides = {}): Promise<LabSidecar> {
    const upstream = this.#networkAddress(target, 'sidecar target');
    const service = this.#take(COMPOSE_SERVICES.sidecars, this.#usedSidecars, 'sidecar');
    await this.#recreate(service, {
      ...sidecarEnv(overrides),
      [COMPOSE_VARIABLES.sidecarTarget(service)]: `http://${upstream}`,
    });
    const [address, admin] = await this.#published(service, [
      COMPOSE_PORTS.sidecar,
      COMPOSE_PORTS.sidecarAdmin,
    ]);
    await this.#ready(service, `http://${admin}/healthz`, (s) => s === 200);
    const scrape = async () => (await fetch(`http://${admin}/metrics`)).text();
    return {
      url: `http://${address}`,
      address: address!,
      metric: async (name, labels = {}) => sumSamples(await scrape(), name, labels) ?? 0,
      closeLog: async () => {
        const r = await (await this.#cli()).run(['logs', '--no-log-prefix', service]);
        return r.stdout
          .split('\n')
          .filter((l) => l.includes('"connection_closed"'))
          .map((l) => JSON.parse(l) as CloseRecord);
      },
      rss: async () => sumSamples(await scrape(), 'process_resident_memory_bytes') ?? 0,
      adminAddress: admin,
      drain: (opts) => drainOverAdmin(admin, opts),
    };
  }

  async pool(sidecars: [LabSidecar, LabSidecar]): Promise<LabPool> {
    const env: Record<string, string> = {};
    sidecars.forEach((s, i) => {
      const k = (i + 1) as 1 | 2;
      env[COMPOSE_VARIABLES.poolServer(k)] = this.#networkAddress(s.address, 'pool server');
      const check = this.#networkAddress(s.adminAddress, 'pool health check');
      if (!check.endsWith(`:${COMPOSE_PORTS.sidecarAdmin}`)) {
        throw new LabError(
          'SL_LAB_COMPOSE',
          `compose lab: the pool checks sidecars on ${COMPOSE_PORTS.sidecarAdmin}, got ${check}`,
        );
      }
      env[COMPOSE_VARIABLES.poolCheckHost(k)] = check.slice(0, check.lastIndexOf(':'));
    });
    // Recreated after its sidecars: HAProxy resolves the service names once, when it starts.
    await this.#recreate(COMPOSE_SERVICES.pool, env);
    const [address] = await this.#published(COMPOSE_SERVICES.pool, [COMPOSE_PORTS.pool]);
    const url = `http://${address}`;
    // Any answer is HAProxy's; a 503 only says no server is up yet.
    await this.#ready(COMPOSE_SERVICES.pool, `${url}/healthz`, () => true);
    return { url, address: address! };
  }

  async edge(upstream: string): Promise<LabEdge> {
    const inNetwork = this.#networkAddress(upstream, 'edge upstream');
    if (!this.#certMade) {
      // The one-shot cert step (idempotent: an existing certificate is kept).
      await (await this.#cli()).run(['run', '--rm', '--no-deps', COMPOSE_SERVICES.edgeCert]);
      this.#certMade = true;
    }
    await this.#recreate(COMPOSE_SERVICES.edge, { [COMPOSE_VARIABLES.edgeUpstream]: inNetwork });
    const [http, https] = await this.#published(COMPOSE_SERVICES.edge, [
      COMPOSE_PORTS.edgeHttp,
      COMPOSE_PORTS.edgeHttps,
    ]);
    // Any answer is nginx's (a 502 only says the upstream is not there yet).
    await this.#ready(COMPOSE_SERVICES.edge, `http://${http}/`, () => true);
    return { httpUrl: `http://${http}`, httpsUrl: `https://${https}` };
  }

  async hop(upstream: string, idleTimeoutMs: number): Promise<LabHop> {
    await this.#recreate(COMPOSE_SERVICES.hop, {
      [COMPOSE_VARIABLES.hopUpstream]: this.#networkAddress(upstream, 'hop upstream'),
      [COMPOSE_VARIABLES.hopIdleTimeout]: `${idleTimeoutMs}ms`,
    });
    const [address] = await this.#published(COMPOSE_SERVICES.hop, [COMPOSE_PORTS.hop]);
    const url = `http://${address}`;
    await this.#ready(COMPOSE_SERVICES.hop, `${url}/healthz`, () => true);
    return {
      url,
      address: address!,
      restart: async () => {
        // SIGTERM, HAProxy's hard stop: every connection drops at once, as with the native hop.
        // The container stays up (not `docker compose restart`, which takes its address off the
        // network for seconds: reconnects would then wait on SYN retransmits, not on their backoff).
        await (await this.#cli()).run(['exec', '-T', COMPOSE_SERVICES.hop, 'sh', HOP_SUPERVISOR, 'restart']);
        await this.#ready(COMPOSE_SERVICES.hop, `${url}/healthz`, () => true);
      },
    };
  }

  async #toxiproxy(): Promise<Toxiproxy> {
    if (!this.#toxi) {
      // Started if it is not running; a running Toxiproxy is kept (its proxies are per drill).
      await (await this.#cli()).run(['up', '-d', '--no-deps', COMPOSE_SERVICES.toxiproxy]);
      const [api] = await this.#published(COMPOSE_SERVICES.toxiproxy, [COMPOSE_PORTS.toxiproxyApi]);
      await this.#ready(COMPOSE_SERVICES.toxiproxy, `http://${api}/version`, (s) => s === 200);
      this.#toxi = new Toxiproxy(`http://${api}`);
    }
    return this.#toxi;
  }

  async faultLink(name: string, upstream: string): Promise<LabFaultLink> {
    const { first, count } = COMPOSE_PORTS.toxiproxyProxies;
    const inNetwork = this.#networkAddress(upstream, 'fault link upstream');
    const used = new Set(this.#links.map((l) => l.port));
    const listenPort = Array.from({ length: count }, (_, i) => first + i).find((p) => !used.has(p));
    if (listenPort === undefined) {
      throw new LabError('SL_LAB_COMPOSE', `compose lab: at most ${count} fault links per drill`);
    }
    const api = await this.#toxiproxy();
    const proxyName = `${name}_${listenPort}`;
    // A proxy left on this port by an interrupted run would hold it.
    await api
      .getAll()
      .then(async (all) => {
        for (const p of Object.values(all)) if (p.listen.endsWith(`:${listenPort}`)) await p.remove();
      })
      .catch(() => {});
    const proxy = await api.createProxy({
      name: proxyName,
      listen: `0.0.0.0:${listenPort}`,
      upstream: inNetwork,
    });
    this.#links.push({ name: proxyName, port: listenPort });
    const [address] = await this.#published(COMPOSE_SERVICES.toxiproxy, [listenPort]);
    const toxics: Array<{ remove(): Promise<void> }> = [];
    return {
      url: `http://${address}`,
      address: address!,
      addToxic: async (spec) => {
        const stream = spec.stream ?? 'downstream';
        const toxic = await proxy.addToxic({
          name: spec.name ?? `${spec.type}_${stream}`,
          type: spec.type,
          stream,
          toxicity: 1,
          attributes: spec.attributes as never,
        });
        toxics.push(toxic);
      },
      clearToxics: async () => {
        for (const toxic of toxics.splice(0)) await toxic.remove().catch(() => {});
      },
    };
  }

  clientAddresses(n: number): string[] {
    // Containers are reached through the bridge or Docker's port forwarding: one source address,
    // whichever the route picks (a loopback one would not reach a container address).
    return Array.from({ length: Math.min(n, 1) }, () => '0.0.0.0');
  }

  /**
   * Ends a drill's scope: its Toxiproxy proxies are removed, its services stay up as the drill
   * left them (the next drill recreates what it uses), so their metrics stay scrapeable.
   */
  async releaseAll(): Promise<void> {
    if (this.#toxi) {
      for (const link of this.#links.splice(0)) {
        await this.#toxi
          .get(link.name)
          .then((p) => p.remove())
          .catch(() => {});
      }
    }
    this.#links = [];
    this.#inNetwork.clear();
    this.#usedBackends.clear();
    this.#usedSidecars.clear();
    this.#scope = `lab${Date.now().toString(36)}${++this.#scopes}`;
  }

  /**
   * Puts every service a drill recreated back to the compose file's configuration (one
   * `up -d --no-deps --wait`), and leaves the stack running: `docker compose down` is the user's.
   * A failure to restore is logged, not thrown, so it never hides the drills' report.
   */
  async close(): Promise<void> {
    await this.releaseAll();
    if (this.#touched.size === 0 || !this.#ctx) return;
    const services = [...this.#touched].sort();
    this.#touched.clear();
    const t0 = performance.now();
    try {
      await (await this.#cli()).run(['up', '-d', '--no-deps', '--wait', ...services], { env: defaultsEnv() });
      this.#log(
        `restored ${services.join(', ')} to docker-compose.yml (${Math.round(performance.now() - t0)} ms); the stack stays up`,
      );
    } catch (err) {
      // The drills' results stand; the stack is only not back to the file's settings.
      this.#log(`could not restore ${services.join(', ')}: ${(err as Error).message}`);
    }
  }
}
