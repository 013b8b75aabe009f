/**
 * The compose lab environment: the same LabEnvironment, mapped onto the services of the
 * repository's docker-compose.yml (at the repository root) instead of child processes.
 *
 * Design: the drills run on the HOST, `node bin/socketlens.js lab --env compose`, with Docker
 * Engine and the Compose v2 plugin (`docker compose`) installed there. This class drives the
 * stack with the docker-compose package (the `docker compose` CLI) and reaches every service
 * through its published loopback port (`docker compose port SERVICE PORT`). Nothing runs inside
 * the compose network on the drills' behalf, so no container needs the Docker socket.
 *
 * Mapping (service names, container ports and variables are exported below; an offline test
 * checks each of them against docker-compose.yml):
 *
 *   backend({nodeId, heartbeatIntervalMs}) -> backend-1 / backend-2 (3000), recreated with
 *                                            BACKEND_HEARTBEAT_MS
 *   sidecar(target, overrides)            -> sidecar-K for target backend-K (8080, admin 9464),
 *                                            recreated with the overrides as SOCKETLENS_* variables
 *   edge(upstream)                        -> edge (nginx; http 8080, https 8443), recreated with
 *                                            EDGE_UPSTREAM = upstream's in-network address
 *   hop(upstream, idle)                   -> hop (HAProxy, 8080), recreated with HOP_UPSTREAM and
 *                                            IDLE_TIMEOUT; restart() = `docker compose restart hop`
 *   faultLink(name, upstream)             -> toxiproxy (API 8474); proxies listen on 20000-20009
 *
 * Addresses handed to a drill are host addresses (127.0.0.1:<published>); when a drill passes
 * one back as an upstream, it is translated to the service's address on the compose network
 * (e.g. sidecar-2:8080), since nginx, HAProxy and Toxiproxy dial from inside it.
 * Metrics are scraped from the sidecar's admin /metrics; the close log is the sidecar's stdout,
 * read with `docker compose logs` (each scope recreates the sidecars, so the log is the scope's).
 */
import * as compose from 'docker-compose';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { BackendStats } from '../backend/stats.js';
import { repoRoot } from '../runner/paths.js';
import { envName } from '../../proxy/config/schema.js';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
import type {
  LabBackendNode,
  LabEdge,
  LabEnvironment,
  LabFaultLink,
  LabHop,
  LabSidecar,
  SidecarOverrides,
} from './types.js';

/** The compose file, relative to the repository root. */
export const COMPOSE_FILE = 'docker-compose.yml';

/** Service name of each role, as written in docker-compose.yml. sidecars[k] fronts backends[k]. */
export const COMPOSE_SERVICES = {
  backends: ['backend-1', 'backend-2'],
  sidecars: ['sidecar-1', 'sidecar-2'],
  edge: 'edge',
  edgeCert: 'edge-cert',
  hop: 'hop',
  toxiproxy: 'toxiproxy',
  redis: 'redis',
} as const;

/** Container ports this class asks `docker compose port` about; each must be published. */
export const COMPOSE_PORTS = {
  backend: 3000,
  sidecar: 8080,
  sidecarAdmin: 9464,
  edgeHttp: 8080,
  edgeHttps: 8443,
  hop: 8080,
  toxiproxyApi: 8474,
  /** Toxiproxy proxies listen on these ports inside the container, published on the same numbers. */
  toxiproxyProxies: { first: 20000, count: 10 },
} as const;

/** Variables this class sets when it (re)creates a service; docker-compose.yml must read them. */
export const COMPOSE_VARIABLES = {
  backendHeartbeat: 'BACKEND_HEARTBEAT_MS',
  edgeUpstream: 'EDGE_UPSTREAM',
  hopUpstream: 'HOP_UPSTREAM',
  hopIdleTimeout: 'IDLE_TIMEOUT',
} as const;

/** The SOCKETLENS_* variables that carry sidecar overrides (sidecarOverrideEnv's names). */
export function sidecarOverrideEnv(overrides: SidecarOverrides): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, v] of Object.entries(overrides)) {
    if (v === null || v === undefined) continue;
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    env[envName('SOCKETLENS', flag)] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return env;
}

export interface ComposeEnvironmentOptions {
  /** Directory holding docker-compose.yml; default the repository root. */
  cwd?: string;
  /** Host the published ports are reachable on; default 127.0.0.1 (the file's LAB_BIND default). */
  host?: string;
}

export class ComposeEnvironment implements LabEnvironment {
  readonly kind = 'compose' as const;
  readonly #opts: compose.IDockerComposeOptions;
  readonly #host: string;
  /** Host address handed to a drill -> the same endpoint's address on the compose network. */
  #inNetwork = new Map<string, string>();
  #usedBackends = new Set<string>();
  #usedSidecars = new Set<string>();
  #links: Array<{ name: string; port: number }> = [];
  #toxi: Toxiproxy | null = null;
  #certMade = false;

  constructor(opts: ComposeEnvironmentOptions = {}) {
    // SOCKETLENS_COMPOSE_DIR: the repository's host path, when the runner is the drills container.
    this.#opts = {
      cwd: opts.cwd ?? process.env.SOCKETLENS_COMPOSE_DIR ?? repoRoot(),
      config: COMPOSE_FILE,
      log: false,
    };
    this.#host = opts.host ?? '127.0.0.1';
  }

  async #published(service: string, containerPort: number): Promise<string> {
    const r = await compose.port(service, containerPort, this.#opts);
    const address = `${this.#host}:${r.data.port}`;
    this.#inNetwork.set(address, `${service}:${containerPort}`);
    return address;
  }

  /** (Re)creates one service with extra variables, leaving its dependencies as they are. */
  async #recreate(service: string, env: Record<string, string>): Promise<void> {
    await compose.upOne(service, {
      ...this.#opts,
      env: { ...process.env, ...env },
      commandOptions: ['--force-recreate', '--no-deps', '--wait'],
    });
  }

  #networkAddress(address: string, role: string): string {
    const bare = address.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
    const mapped = this.#inNetwork.get(bare);
    if (!mapped) {
      throw new Error(
        `compose lab: ${role} ${address} is not an address this environment handed out; pass a backend, sidecar or link of the same scope`,
      );
    }
    return mapped;
  }

  async backend(opts: {
    nodeId: string;
    redis?: boolean;
    heartbeatIntervalMs?: number;
  }): Promise<LabBackendNode> {
    const service = COMPOSE_SERVICES.backends.find((s) => !this.#usedBackends.has(s));
    if (!service) throw new Error(`compose lab: only ${COMPOSE_SERVICES.backends.length} backends per scope`);
    this.#usedBackends.add(service);
    // Redis starts as a dependency the first time; backends always join its bus in compose.
    await compose.upOne(COMPOSE_SERVICES.redis, { ...this.#opts, commandOptions: ['--wait'] });
    await this.#recreate(service, {
      [COMPOSE_VARIABLES.backendHeartbeat]: String(opts.heartbeatIntervalMs ?? 0),
    });
    const address = await this.#published(service, COMPOSE_PORTS.backend);
    const url = `http://${address}`;
    return {
      // The node id is fixed by the compose file (n1, n2); the drill's name is kept for its logs.
      nodeId: opts.nodeId,
      url,
      address,
      stats: async () => (await (await fetch(`${url}/stats`)).json()) as BackendStats,
      publish: async (room, data) => {
        await fetch(`${url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ room, data }),
        });
      },
    };
  }

  async sidecar(target: string, overrides: SidecarOverrides = {}): Promise<LabSidecar> {
    // Each sidecar's target is fixed by the compose file: sidecar-K -> backend-K.
    const backendService = this.#networkAddress(target, 'sidecar target').split(':')[0];
    const k = COMPOSE_SERVICES.backends.indexOf(backendService as (typeof COMPOSE_SERVICES.backends)[number]);
    if (k < 0) throw new Error(`compose lab: a sidecar can only front a backend, got ${target}`);
    const service = COMPOSE_SERVICES.sidecars[k]!;
    if (this.#usedSidecars.has(service))
      throw new Error(`compose lab: ${service} is already in use in this scope`);
    this.#usedSidecars.add(service);
    await this.#recreate(service, sidecarOverrideEnv(overrides));
    const address = await this.#published(service, COMPOSE_PORTS.sidecar);
    const admin = await this.#published(service, COMPOSE_PORTS.sidecarAdmin);
    const scrape = async () => (await fetch(`http://${admin}/metrics`)).text();
    return {
      url: `http://${address}`,
      address,
      metric: async (name, labels = {}) => sumSamples(await scrape(), name, labels) ?? 0,
      closeLog: async () => {
        const r = await compose.logs(service, { ...this.#opts, commandOptions: ['--no-log-prefix'] });
        return r.out
          .split('\n')
          .filter((l) => l.includes('"connection_closed"'))
          .map((l) => JSON.parse(l) as CloseRecord);
      },
      rss: async () => sumSamples(await scrape(), 'process_resident_memory_bytes') ?? 0,
    };
  }

  async edge(upstream: string): Promise<LabEdge> {
    if (!this.#certMade) {
      // The one-shot cert step (idempotent); `run` waits for it, `up --no-deps` would not.
      await compose.run(COMPOSE_SERVICES.edgeCert, [], { ...this.#opts, commandOptions: ['--rm'] });
      this.#certMade = true;
    }
    await this.#recreate(COMPOSE_SERVICES.edge, {
      [COMPOSE_VARIABLES.edgeUpstream]: this.#networkAddress(upstream, 'edge upstream'),
    });
    return {
      httpUrl: `http://${await this.#published(COMPOSE_SERVICES.edge, COMPOSE_PORTS.edgeHttp)}`,
      httpsUrl: `https://${await this.#published(COMPOSE_SERVICES.edge, COMPOSE_PORTS.edgeHttps)}`,
    };
  }

  async hop(upstream: string, idleTimeoutMs: number): Promise<LabHop> {
    await this.#recreate(COMPOSE_SERVICES.hop, {
      [COMPOSE_VARIABLES.hopUpstream]: this.#networkAddress(upstream, 'hop upstream'),
      [COMPOSE_VARIABLES.hopIdleTimeout]: `${idleTimeoutMs}ms`,
    });
    const address = await this.#published(COMPOSE_SERVICES.hop, COMPOSE_PORTS.hop);
    return {
      url: `http://${address}`,
      address,
      restart: async () => {
        await compose.restartOne(COMPOSE_SERVICES.hop, this.#opts);
      },
    };
  }

  async faultLink(name: string, upstream: string): Promise<LabFaultLink> {
    const { first, count } = COMPOSE_PORTS.toxiproxyProxies;
    if (this.#links.length >= count) throw new Error(`compose lab: at most ${count} fault links per scope`);
    if (!this.#toxi) {
      await compose.upOne(COMPOSE_SERVICES.toxiproxy, this.#opts);
      const api = await this.#published(COMPOSE_SERVICES.toxiproxy, COMPOSE_PORTS.toxiproxyApi);
      this.#toxi = new Toxiproxy(`http://${api}`);
    }
    const api = this.#toxi;
    const listenPort = first + this.#links.length;
    const proxyName = `${name}_${listenPort}`;
    const proxy = await api.createProxy({
      name: proxyName,
      listen: `0.0.0.0:${listenPort}`,
      upstream: this.#networkAddress(upstream, 'fault link upstream'),
    });
    this.#links.push({ name: proxyName, port: listenPort });
    const address = await this.#published(COMPOSE_SERVICES.toxiproxy, listenPort);
    const toxics: Array<{ remove(): Promise<void> }> = [];
    return {
      url: `http://${address}`,
      address,
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
    // Published ports are reached through Docker's port forwarding; one source address is all there is.
    return Array.from({ length: Math.min(n, 1) }, () => this.#host);
  }

  async releaseAll(): Promise<void> {
    if (this.#toxi) {
      for (const link of this.#links.splice(0)) {
        await this.#toxi
          .get(link.name)
          .then((p) => p.remove())
          .catch(() => {});
      }
    }
    this.#inNetwork.clear();
    this.#usedBackends.clear();
    this.#usedSidecars.clear();
    await compose.stopMany(
      this.#opts,
      COMPOSE_SERVICES.edge,
      COMPOSE_SERVICES.hop,
      ...COMPOSE_SERVICES.sidecars,
      ...COMPOSE_SERVICES.backends,
    );
  }

  async close(): Promise<void> {
    await compose.downAll(this.#opts);
  }
}
