/**
 * LabEnvironment: what a drill may ask of the lab, independent of how the lab runs.
 *
 * A drill is written once against this interface. `native` (native.ts) starts real nginx,
 * HAProxy, Toxiproxy and Redis as child processes and runs backends and sidecars in-process;
 * `compose` (compose.ts) maps the same calls onto docker-compose services.
 *
 * Everything a drill starts is owned by the environment's current scope: `releaseAll()` stops it
 * all (in reverse order), so a drill that throws halfway leaves nothing behind.
 */
import type { BackendStats } from '../backend/stats.js';
import type { SidecarConfig } from '../../proxy/config/sidecar-options.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';

export type EnvKind = 'native' | 'compose';

export interface LabBackendNode {
  readonly nodeId: string;
  /** http://host:port */
  readonly url: string;
  /** host:port, for components that forward to it. */
  readonly address: string;
  stats(): Promise<BackendStats>;
  publish(room: string, data: unknown): Promise<void>;
}

/** A third-party app the lab runs as a backend (e.g. a real Socket.IO server). */
export interface LabApp {
  readonly url: string;
  /** host:port, for components that forward to it. */
  readonly address: string;
  /** Transport each engine.io session was on when it closed, as the app saw it. */
  closedOn(): Promise<string[]>;
}

export interface LabSidecar {
  readonly url: string;
  readonly address: string;
  /** Current value of one metric series (summed over matching labels). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Close records of connections ended so far. */
  closeLog(): Promise<CloseRecord[]>;
  /** Resident set size of the process the sidecar runs in, in bytes. */
  rss(): Promise<number>;
  /**
   * Starts a fault through the sidecar's fault API (the sidecar was made with `faults: true`);
   * resolves with its id. Native environment only.
   */
  fault?(spec: Record<string, unknown>): Promise<string>;
  /**
   * Close codes of the live WebSocket connections whose backend has already sent a close frame
   * (a service may keep its socket open for a while after it). Native environment only.
   */
  backendCloses?(): Promise<number[]>;
  /** host:port of its admin server (/readyz for health checks, /metrics, the drain requests). */
  readonly adminAddress: string;
  /** Starts a drain without exit (admin POST /drain) and resolves once it is over. */
  drain(opts: { windowMs: number; delayMs: number }): Promise<void>;
}

/** A load balancer in front of several sidecars, health-checking each on its /readyz. */
export interface LabPool {
  readonly url: string;
  readonly address: string;
}

export interface LabEdge {
  /** http://host:port of nginx (plain HTTP listener). */
  readonly httpUrl: string;
  readonly httpsUrl: string;
}

export interface LabHop {
  readonly url: string;
  readonly address: string;
  /** Drops every connection at once and comes back on the same address. */
  restart(): Promise<void>;
}

export interface LabToxicSpec {
  type: 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data';
  attributes: Record<string, number>;
  stream?: 'upstream' | 'downstream';
  name?: string;
}

export interface LabFaultLink {
  /** http://host:port clients connect to; bytes go through Toxiproxy to the upstream. */
  readonly url: string;
  readonly address: string;
  addToxic(spec: LabToxicSpec): Promise<void>;
  clearToxics(): Promise<void>;
}

export type SidecarOverrides = Omit<Partial<SidecarConfig>, 'target' | 'listen' | 'admin'>;

export interface LabEnvironment {
  readonly kind: EnvKind;
  /** A demo backend node; `redis: true` joins the shared Redis bus (cross-node broadcast). */
  backend(opts: { nodeId: string; redis?: boolean; heartbeatIntervalMs?: number }): Promise<LabBackendNode>;
  /** A real Socket.IO 4 app (lab/backend/socketio-app.ts), at /socket.io/ with its default heartbeat. */
  socketioApp(): Promise<LabApp>;
  /** A sidecar in front of `target` (a backend or anything speaking HTTP). */
  sidecar(target: string, overrides?: SidecarOverrides): Promise<LabSidecar>;
  /** nginx TLS edge in front of `upstream` (host:port): `/`, `/stripped/`, `/buffered/`. */
  edge(upstream: string): Promise<LabEdge>;
  /** HAProxy idle-timeout hop (the ALB stand-in) in front of `upstream`. */
  hop(upstream: string, idleTimeoutMs: number): Promise<LabHop>;
  /** HAProxy balancing over two sidecars (round robin), each taken out when its /readyz fails. */
  pool(sidecars: [LabSidecar, LabSidecar]): Promise<LabPool>;
  /** A Toxiproxy proxy in front of `upstream`. */
  faultLink(name: string, upstream: string): Promise<LabFaultLink>;
  /** Source addresses clients can bind to, to look like many hosts. */
  clientAddresses(n: number): string[];
  /** Stops everything started since the last releaseAll(). */
  releaseAll(): Promise<void>;
  /** Stops the shared components (Toxiproxy, Redis) too. */
  close(): Promise<void>;
}
