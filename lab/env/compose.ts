/**
 * The compose lab environment (skeleton): the same LabEnvironment, mapped onto the services of
 * the docker-compose stack (lab/compose/docker-compose.yml) instead of child processes.
 *
 * It cannot run in this sandbox (no Docker engine); it typechecks and documents the mapping:
 *
 *   backend({nodeId: 'node-1'|'node-2'})  -> service backend-1 / backend-2 (container port 3000)
 *   sidecar(target)                       -> service sidecar-1 / sidecar-2 (8080, admin 9464);
 *                                           the sidecar in front of a backend is fixed by the
 *                                           compose file, `overrides` are passed as SOCKETLENS_*
 *                                           environment on `up --force-recreate`
 *   edge(upstream)                        -> service edge (nginx, 80/443)
 *   hop(upstream, idle)                   -> service hop (HAProxy, 8081); restart() = restartOne
 *   faultLink(name, upstream)             -> service toxiproxy (API 8474, proxies on 20000+)
 *
 * Metrics are scraped from the sidecar's admin /metrics (the in-process shortcut of the native
 * runner does not exist here); the close log is read with `docker compose logs`.
 */
import * as compose from 'docker-compose';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { BackendStats } from '../backend/stats.js';
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

export interface ComposeEnvironmentOptions {
  /** Directory holding docker-compose.yml; default lab/compose. */
  cwd?: string;
  /** Host the published ports are reachable on; default 127.0.0.1. */
  host?: string;
}

/** Service name of each role, as written in lab/compose/docker-compose.yml. */
export const COMPOSE_SERVICES = {
  backends: ['backend-1', 'backend-2'],
  sidecars: ['sidecar-1', 'sidecar-2'],
  edge: 'edge',
  hop: 'hop',
  toxiproxy: 'toxiproxy',
  redis: 'redis',
} as const;

function parseMetric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || (m[1] !== name && m[1] !== `${name}_count`)) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

export class ComposeEnvironment implements LabEnvironment {
  readonly kind = 'compose' as const;
  readonly #opts: compose.IDockerComposeOptions;
  readonly #host: string;
  #backends = 0;
  #sidecars = 0;
  #links = 0;

  constructor(opts: ComposeEnvironmentOptions = {}) {
    this.#opts = { cwd: opts.cwd ?? 'lab/compose', log: false };
    this.#host = opts.host ?? '127.0.0.1';
  }

  async #published(service: string, containerPort: number): Promise<string> {
    const r = await compose.port(service, containerPort, this.#opts);
    return `${this.#host}:${r.data.port}`;
  }

  async backend(opts: { nodeId: string; redis?: boolean }): Promise<LabBackendNode> {
    const service = COMPOSE_SERVICES.backends[this.#backends++ % COMPOSE_SERVICES.backends.length];
    await compose.upOne(service, this.#opts);
    const address = await this.#published(service, 3000);
    const url = `http://${address}`;
    return {
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

  async sidecar(_target: string, overrides: SidecarOverrides = {}): Promise<LabSidecar> {
    const service = COMPOSE_SERVICES.sidecars[this.#sidecars++ % COMPOSE_SERVICES.sidecars.length];
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null || v === undefined) continue;
      env[`SOCKETLENS_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] = Array.isArray(v)
        ? v.join(',')
        : String(v);
    }
    await compose.upOne(service, { ...this.#opts, env, commandOptions: ['--force-recreate'] });
    const address = await this.#published(service, 8080);
    const admin = await this.#published(service, 9464);
    return {
      url: `http://${address}`,
      address,
      metric: async (name, labels = {}) =>
        parseMetric(await (await fetch(`http://${admin}/metrics`)).text(), name, labels),
      closeLog: async () => {
        const r = await compose.logs(service, { ...this.#opts, commandOptions: ['--no-log-prefix'] });
        return r.out
          .split('\n')
          .filter((l) => l.includes('"connection_closed"'))
          .map((l) => JSON.parse(l) as CloseRecord);
      },
      rss: async () =>
        parseMetric(
          await (await fetch(`http://${admin}/metrics`)).text(),
          'process_resident_memory_bytes',
          {},
        ),
    };
  }

  async edge(_upstream: string): Promise<LabEdge> {
    await compose.upOne(COMPOSE_SERVICES.edge, this.#opts);
    return {
      httpUrl: `http://${await this.#published(COMPOSE_SERVICES.edge, 80)}`,
      httpsUrl: `https://${await this.#published(COMPOSE_SERVICES.edge, 443)}`,
    };
  }

  async hop(_upstream: string, idleTimeoutMs: number): Promise<LabHop> {
    const env = { ...process.env, HOP_IDLE_TIMEOUT: `${idleTimeoutMs}ms` };
    await compose.upOne(COMPOSE_SERVICES.hop, { ...this.#opts, env, commandOptions: ['--force-recreate'] });
    const address = await this.#published(COMPOSE_SERVICES.hop, 8081);
    return {
      url: `http://${address}`,
      address,
      restart: async () => {
        await compose.restartOne(COMPOSE_SERVICES.hop, this.#opts);
      },
    };
  }

  async faultLink(name: string, upstream: string): Promise<LabFaultLink> {
    await compose.upOne(COMPOSE_SERVICES.toxiproxy, this.#opts);
    const api = new Toxiproxy(`http://${await this.#published(COMPOSE_SERVICES.toxiproxy, 8474)}`);
    const listenPort = 20000 + this.#links++;
    const proxy = await api.createProxy({ name, listen: `0.0.0.0:${listenPort}`, upstream });
    const address = await this.#published(COMPOSE_SERVICES.toxiproxy, listenPort);
    return {
      url: `http://${address}`,
      address,
      addToxic: async (spec) => {
        const stream = spec.stream ?? 'downstream';
        await proxy.addToxic({
          name: spec.name ?? `${spec.type}_${stream}`,
          type: spec.type,
          stream,
          toxicity: 1,
          attributes: spec.attributes as never,
        });
      },
      clearToxics: async () => {
        await api.reset();
      },
    };
  }

  clientAddresses(n: number): string[] {
    // Published ports are reached through the Docker proxy; one source address is all there is.
    return Array.from({ length: Math.min(n, 1) }, () => '127.0.0.1');
  }

  async releaseAll(): Promise<void> {
    await compose.stopMany(this.#opts, ...COMPOSE_SERVICES.sidecars, COMPOSE_SERVICES.hop);
  }

  async close(): Promise<void> {
    await compose.down(this.#opts);
  }
}
