/**
 * The idle-timeout hop: a real HAProxy standing in for an AWS ALB, rendered from
 * lab/configs/haproxy/idle-hop.cfg.template (shared with docker-compose).
 *
 * A connection that moves no data for `idleTimeoutMs` is cut, before or after a WebSocket
 * upgrade; traffic in either direction (pings too) keeps it alive. `restart()` drops every
 * connection at once — what the reconnect-storm drill needs.
 *
 *   const hop = await startHaproxy({ upstream: '127.0.0.1:8080', idleTimeoutMs: 1500 });
 *   // ws://127.0.0.1:${hop.port}/ws ...
 *   await hop.restart();
 *   await hop.stop();
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { configPath } from '../paths.js';
import { freePort, retryOnPortClash } from '../ports.js';
import { type ManagedProcess, startProcess } from '../process.js';
import { renderTemplateFile, type TemplateVars } from '../template.js';
import { prepareWorkDir, type WorkDirOptions } from '../workdir.js';

export interface HaproxyOptions extends WorkDirOptions {
  /** host:port to forward to (normally the sidecar or the edge). */
  upstream: string;
  /** Idle timeout in ms, applied to both sides; default 60000 (the ALB default). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  clientFinTimeoutMs?: number;
  port?: number;
  host?: string;
}

export interface HaproxyHop {
  readonly port: number;
  /** http://host:port — the hop speaks plain HTTP (use ws:// for WebSocket). */
  readonly url: string;
  readonly configPath: string;
  readonly workDir: string;
  readonly logPath: string;
  readonly pid: number | undefined;
  /** Kills HAProxy (every open connection drops) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHaproxy(opts: HaproxyOptions): Promise<HaproxyHop> {
  const work = prepareWorkDir('haproxy', opts);
  const host = opts.host ?? '127.0.0.1';
  const cfg = join(work.path, 'idle-hop.cfg');
  const { proc, port } = await startRendered({
    name: 'haproxy',
    template: 'idle-hop.cfg.template',
    cfg,
    workDir: work.path,
    host,
    fixedPort: opts.port,
    vars: (port) => ({
      LISTEN_ADDR: host,
      LISTEN_PORT: port,
      UPSTREAM: opts.upstream,
      IDLE_TIMEOUT: `${opts.idleTimeoutMs ?? 60_000}ms`,
      CONNECT_TIMEOUT: `${opts.connectTimeoutMs ?? 2000}ms`,
      CLIENT_FIN_TIMEOUT: `${opts.clientFinTimeoutMs ?? 1000}ms`,
    }),
  });

  return {
    port,
    url: `http://${host}:${port}`,
    configPath: cfg,
    workDir: work.path,
    logPath: proc.logPath,
    get pid() {
      return proc.pid;
    },
    restart: () => proc.restart(),
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}

export interface HaproxyPoolOptions extends WorkDirOptions {
  /** The two servers: where traffic goes (host:port) and where /readyz answers (host:port). */
  servers: [PoolServer, PoolServer];
  /** Health-check interval in ms (default 200). */
  checkIntervalMs?: number;
  host?: string;
}

export interface PoolServer {
  address: string;
  checkAddress: string;
}

export interface HaproxyPool {
  readonly port: number;
  readonly url: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

/**
 * A load balancer in front of two sidecars, rendered from lab/configs/haproxy/pool-hop.cfg.template:
 * round robin, each server health-checked on its sidecar's /readyz, so a draining sidecar is taken
 * out within one check interval.
 */
export async function startHaproxyPool(opts: HaproxyPoolOptions): Promise<HaproxyPool> {
  const work = prepareWorkDir('haproxy-pool', opts);
  const host = opts.host ?? '127.0.0.1';
  const cfg = join(work.path, 'pool-hop.cfg');
  const split = (hostPort: string) => {
    const i = hostPort.lastIndexOf(':');
    return [hostPort.slice(0, i), hostPort.slice(i + 1)] as const;
  };
  const [s1, s2] = opts.servers;
  const { proc, port } = await startRendered({
    name: 'haproxy-pool',
    template: 'pool-hop.cfg.template',
    cfg,
    workDir: work.path,
    host,
    vars: (port) => ({
      LISTEN_ADDR: host,
      LISTEN_PORT: port,
      SERVER_1: s1.address,
      CHECK_HOST_1: split(s1.checkAddress)[0],
      CHECK_PORT_1: split(s1.checkAddress)[1],
      SERVER_2: s2.address,
      CHECK_HOST_2: split(s2.checkAddress)[0],
      CHECK_PORT_2: split(s2.checkAddress)[1],
      CHECK_INTERVAL: `${opts.checkIntervalMs ?? 200}ms`,
    }),
  });
  return {
    port,
    url: `http://${host}:${port}`,
    logPath: proc.logPath,
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}

/**
 * Renders lab/configs/haproxy/`template` into `cfg` for `fixedPort` (or a free port) and starts
 * HAProxy on it in the foreground (-db: no daemon; its logs go to the process log). SIGTERM is
 * HAProxy's hard stop: it closes every connection at once. A port taken meanwhile is retried.
 */
async function startRendered(o: {
  name: string;
  template: string;
  cfg: string;
  workDir: string;
  host: string;
  fixedPort?: number;
  vars: (port: number) => TemplateVars;
}): Promise<{ proc: ManagedProcess; port: number }> {
  const { name, template, cfg, workDir, host, fixedPort, vars } = o;
  const haproxy = findBinary('haproxy');
  return retryOnPortClash(async () => {
    const port = fixedPort ?? (await freePort(host));
    writeFileSync(cfg, renderTemplateFile(configPath('haproxy', template), vars(port)));
    const proc = await startProcess({
      name,
      command: haproxy,
      args: ['-db', '-f', cfg],
      workDir,
      ready: { port, host },
      stopSignal: 'SIGTERM',
    });
    return { proc, port };
  });
}
