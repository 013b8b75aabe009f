/**
 * A running sidecar: the proxy listener (HTTP, SSE, long-poll and WebSocket upgrades), the admin
 * server, and graceful shutdown. `startSidecar()` is what the CLI, the lab and the tests call.
 */
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { createAdminServer, type AdminRoute } from './admin/server.js';
import type { Clock } from './clock.js';
import { isResourceExhaustion } from './resources.js';
import type { SidecarConfig } from './config/sidecar-options.js';
import type { DrainClock } from './connections/drain.js';
import type { DrainLogger } from './connections/drain-control.js';
import { createContext, type SidecarContext } from './context.js';
import { ConfigError } from './errors.js';
import { createClientErrorHandler } from './http/client-errors.js';
import { type FaultLogger, FaultRegistry } from './faults/registry.js';
import { createHttpHandler } from './http/forward.js';
import type { SidecarMetrics } from './metrics/registry.js';
import type { UpgradeChecks } from './policy/types.js';
import type { CloseLogger } from './telemetry/close-log.js';
import { createUpgradeHandler } from './ws/upgrade.js';

export interface SidecarOptions {
  metrics?: SidecarMetrics;
  log?: CloseLogger;
  checks?: UpgradeChecks | null;
  adminRoutes?: AdminRoute[];
  /** Where fault_started/fault_ended lines go (default: stdout as JSON lines, unless --log off). */
  faultLog?: FaultLogger;
  /** Time and randomness (tests pass a virtual clock). */
  clock?: Clock;
  /** Where the drain's start and end lines go (default: JSON lines on stdout, like the close log). */
  drainLog?: DrainLogger;
  /** The drain's clock and random source (tests run drains on virtual time). */
  drainClock?: DrainClock;
  drainRandom?: () => number;
}

export interface Sidecar {
  readonly ctx: SidecarContext;
  /** http://host:port of the proxy listener. */
  readonly url: string;
  readonly port: number;
  /** http://host:port of the admin server, or null when it is off. */
  readonly adminUrl: string | null;
  /**
   * Graceful stop: the staggered drain first (ctx.drain: readiness off and new connections
   * refused, then every connection closed over the drain window, each side's bytes already sent
   * still delivered). Then anything that slipped in is closed with 1001, and the sidecar waits for
   * every socket it holds, in any state, to close; when the drain timeout is over, whatever is
   * left is cut and the listeners close.
   */
  shutdown(): Promise<void>;
  /** Immediate stop: cut every connection without a closing handshake, then close the listeners. */
  close(): Promise<void>;
}

/** Which listener, named by the option that sets its address. */
type Listener = { name: 'proxy' | 'admin'; flag: '--listen' | '--admin' };

function listen(server: http.Server, host: string, port: number, which: Listener): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      freePortNear(host, port).then((free) =>
        reject(
          new ConfigError(
            which.flag,
            `the ${which.name} listener cannot start: address already in use: ${hostForUrl(host)}:${port} (another process listens there)` +
              (free === null
                ? '; pick another port'
                : `; pick another port, e.g. ${which.flag} ${hostForUrl(host)}:${free}`),
          ),
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The first port after `port` (up to 20 further) that can be bound on `host` right now, or null. */
async function freePortNear(host: string, port: number): Promise<number | null> {
  for (let p = port + 1; p <= Math.min(65535, port + 20); p++) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen({ port: p, host, exclusive: true }, () => probe.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  return null;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSidecar(config: SidecarConfig, opts: SidecarOptions = {}): Promise<Sidecar> {
  const ctx = createContext(config, {
    metrics: opts.metrics,
    log: opts.log,
    clock: opts.clock,
    drainLog: opts.drainLog,
    drainClock: opts.drainClock,
    drainRandom: opts.drainRandom,
  });
  ctx.checks = opts.checks ?? null;
  if (config.faults) {
    const write = (r: object) => process.stdout.write(`${JSON.stringify(r)}\n`);
    ctx.faults = new FaultRegistry(
      ctx.table,
      ctx.metrics,
      opts.faultLog ?? (config.log === 'off' ? () => {} : write),
    );
  }

  const tickEvery = [
    config.heartbeatInterval > 0 ? config.heartbeatInterval / 10 : Number.POSITIVE_INFINITY,
    config.pongTimeout / 10,
    // The slow-consumer grace also times the global buffer bound's shedding, which is always on.
    config.slowConsumerGrace / 10,
    // Fine enough that jittered deadlines stay spread out.
    config.maxConnectionAge > 0
      ? (config.maxConnectionAge * Math.max(config.maxConnectionAgeJitter, 0.1)) / 10
      : Number.POSITIVE_INFINITY,
    1000,
  ];
  ctx.table.requestTick(Math.min(...tickEvery));

  const server = http.createServer({
    headersTimeout: config.requestTimeout,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.requestTimeout / 4))),
    keepAliveTimeout: 5000,
  });
  const onRequest = createHttpHandler(ctx);
  server.on('connection', (socket: Socket) => ctx.sockets.hold(socket));
  server.on('request', onRequest);
  server.on('upgrade', createUpgradeHandler(ctx, onRequest));
  server.on('clientError', createClientErrorHandler(ctx.metrics));

  const addr = await listen(server, config.listen.host, config.listen.port, {
    name: 'proxy',
    flag: '--listen',
  });
  // After listen: accept() failing with EMFILE reaches here only when libuv had no descriptor in
  // reserve to reset the waiting clients with (see proxy/resources.ts); without a listener, the
  // process would crash on it.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (isResourceExhaustion(err.code)) ctx.reportExhaustion(err.code!, 'accept');
    else
      process.stderr.write(`socketlens: the proxy listener failed to accept (${err.code ?? err.message})\n`);
  });
  let admin: http.Server | null = null;
  let adminAddr: AddressInfo | null = null;
  if (config.admin) {
    admin = createAdminServer(ctx, opts.adminRoutes);
    try {
      adminAddr = await listen(admin, config.admin.host, config.admin.port, {
        name: 'admin',
        flag: '--admin',
      });
    } catch (err) {
      server.close();
      throw err;
    }
  }

  let stopping: Promise<void> | null = null;
  const closeListeners = async () => {
    ctx.faults?.clear('shutdown');
    ctx.table.stop();
    ctx.protocols.stop();
    onRequest.close();
    server.closeAllConnections();
    ctx.sockets.destroyAll();
    await Promise.all([
      new Promise<void>((r) => server.close(() => r())),
      admin
        ? new Promise<void>((r) => {
            admin!.closeAllConnections();
            admin!.close(() => r());
          })
        : Promise.resolve(),
    ]);
  };

  return {
    ctx,
    url: `http://${hostForUrl(addr.address)}:${addr.port}`,
    port: addr.port,
    adminUrl: adminAddr ? `http://${hostForUrl(adminAddr.address)}:${adminAddr.port}` : null,
    shutdown() {
      stopping ??= (async () => {
        // The listener stays open during the drain: late clients get 503 + Retry-After, not a reset.
        server.closeIdleConnections();
        await ctx.drain.begin({ reason: 'shutdown' });
        ctx.stopping = true;
        server.close();
        server.closeIdleConnections();
        for (const c of [...ctx.table.connections()]) c.shutdown(1001);
        let cancel: (() => void) | undefined;
        const timeout = new Promise<void>((r) => {
          cancel = ctx.clock.after(config.drainTimeout, r);
        });
        // Not only the table: upgrades still being checked or answered, non-101 answers being
        // relayed and idle keep-alive sockets are held too, and the drain ends for all of them.
        await Promise.race([ctx.sockets.empty(), timeout]);
        cancel?.();
        await closeListeners();
      })();
      return stopping;
    },
    async close() {
      const live = [...ctx.table.connections()];
      for (const c of live) c.abort();
      await Promise.all(live.map((c) => c.done));
      await closeListeners();
    },
  };
}
