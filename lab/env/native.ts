/**
 * The native lab environment: real nginx, HAProxy, Toxiproxy and Redis as child processes
 * (lab/runner), and the demo backends and sidecars in this Node process, all on loopback
 * ephemeral ports. Toxiproxy and Redis are started once, on first use, and shared by drills;
 * everything else belongs to the current scope and is stopped by releaseAll().
 *
 * With `{ prometheus: true }` a real Prometheus (shared, like Toxiproxy) scrapes every sidecar:
 * each sidecar gets an admin listener on an ephemeral port, listed in a file_sd file that
 * Prometheus re-reads within a second. A new sidecar waits for its first scrape (≤ 8 s;
 * Prometheus applies new targets every 5 s), so its counters start from a zero sample;
 * releaseAll() waits (≤ 4 s) until every sidecar was scraped twice more before stopping it, so
 * the last events of a drill reach Prometheus.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, startBackend } from '../backend/server.js';
import { startSocketioApp } from '../backend/socketio-app.js';
import { drainOverAdmin } from './admin-drain.js';
import { type PrometheusServer, startPrometheus } from '../runner/components/prometheus.js';
import {
  freePort,
  type RedisServer,
  startHaproxy,
  startHaproxyPool,
  startNginx,
  startRedis,
  startToxiproxy,
  type ToxiproxyServer,
} from '../runner/index.js';
import { sidecarConfig } from '../../proxy/config/sidecar-options.js';
import { buildChecks } from '../../proxy/policy/checks.js';
import { parseFaultSpec } from '../../proxy/faults/spec.js';
import { startSidecar } from '../../proxy/sidecar.js';
import { WsConnection } from '../../proxy/ws/connection.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';
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

const HOST = '127.0.0.1';

export interface NativeEnvironmentOptions {
  /** Start a Prometheus (on first use, or via prometheus()) scraping every sidecar's admin port. */
  prometheus?: boolean;
}

/** Polls until `done` or `ms` passed; never throws (a probe error counts as not done). */
async function settle(done: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await done().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export class NativeEnvironment implements LabEnvironment {
  readonly kind = 'native' as const;
  #withPrometheus: boolean;
  #prom: Promise<PrometheusServer> | null = null;
  #sdDir: string | null = null;
  /** Admin host:port of every live sidecar, as listed in the file_sd file. */
  #scraped = new Set<string>();

  constructor(opts: NativeEnvironmentOptions = {}) {
    this.#withPrometheus = opts.prometheus === true;
  }

  /** The shared Prometheus; throws unless the environment was made with `{ prometheus: true }`. */
  prometheus(): Promise<PrometheusServer> {
    if (!this.#withPrometheus) throw new Error('NativeEnvironment: made without { prometheus: true }');
    if (!this.#prom) {
      this.#sdDir = mkdtempSync(join(tmpdir(), 'socketlens-sd-'));
      this.#writeTargets();
      this.#prom = startPrometheus({ targets: [], fileSd: join(this.#sdDir, 'sidecars.json') });
    }
    return this.#prom;
  }

  #writeTargets(): void {
    if (!this.#sdDir) return;
    const file = join(this.#sdDir, 'sidecars.json');
    // Written aside and renamed, so Prometheus never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify([{ targets: [...this.#scraped] }]));
    renameSync(`${file}.tmp`, file);
  }

  /** Scrape targets of the file_sd job whose last scrape ended after `sinceMs` (epoch ms), up. */
  async #scrapedSince(addresses: string[], sinceMs: number): Promise<boolean> {
    const prom = await this.#prom!;
    const targets = await prom.targets();
    return addresses.every((a) =>
      targets.some(
        (t) =>
          t.labels.instance === a &&
          t.scrapePool === 'socketlens-file-sd' &&
          t.health === 'up' &&
          Date.parse(t.lastScrape) >= sinceMs,
      ),
    );
  }
  #stops: Array<() => Promise<void>> = [];
  #toxi: Promise<ToxiproxyServer> | null = null;
  #redis: Promise<RedisServer> | null = null;
  #links = 0;
  // Redis key/channel prefix shared by the backends of one scope, fresh for each scope.
  #scope = `lab${Date.now().toString(36)}`;

  #own(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }

  #redisServer(): Promise<RedisServer> {
    this.#redis ??= startRedis();
    return this.#redis;
  }

  #toxiproxy(): Promise<ToxiproxyServer> {
    this.#toxi ??= startToxiproxy();
    return this.#toxi;
  }

  async backend(opts: { nodeId: string; redis?: boolean; heartbeatIntervalMs?: number }) {
    const redisUrl = opts.redis ? (await this.#redisServer()).url : undefined;
    const b: Backend = await startBackend({
      nodeId: opts.nodeId,
      redisUrl,
      // Per scope, so replayed history of an earlier drill run never leaks in.
      redisPrefix: this.#scope,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 0,
      closeGraceMs: 200,
    });
    this.#own(() => b.close());
    const node: LabBackendNode = {
      nodeId: b.nodeId,
      url: b.url,
      address: `${HOST}:${b.port}`,
      stats: async () => structuredClone(b.stats()),
      publish: async (room, data) => {
        await b.publish(room, data);
      },
    };
    return node;
  }

  async socketioApp(): Promise<LabApp> {
    const app = await startSocketioApp({ host: HOST });
    this.#own(() => app.close());
    return { url: app.url, address: app.address, closedOn: async () => app.closedOn() };
  }

  async sidecar(target: string, overrides: SidecarOverrides = {}): Promise<LabSidecar> {
    const logs: CloseRecord[] = [];
    const config = sidecarConfig({
      ...overrides,
      target: target.startsWith('http') ? target : `http://${target}`,
      listen: { host: HOST, port: 0 },
      // Always an admin server: the pool health-checks /readyz there, and drains go through it.
      admin: { host: HOST, port: 0 },
    });
    const checks = await buildChecks(config);
    const s = await startSidecar(config, {
      log: (r) => logs.push(r),
      checks,
      faultLog: () => {},
      drainLog: () => {},
    });
    const scrapeAt = s.adminUrl?.replace(/^http:\/\//, '');
    if (this.#withPrometheus && scrapeAt) {
      await this.prometheus();
      this.#scraped.add(scrapeAt);
      this.#writeTargets();
      this.#own(async () => {
        this.#scraped.delete(scrapeAt);
        this.#writeTargets();
        await s.close();
      });
      await settle(() => this.#scrapedSince([scrapeAt], 0), 8000);
    } else {
      this.#own(() => s.close());
    }
    const adminAddress = s.adminUrl!.replace(/^http:\/\//, '');
    return {
      url: s.url,
      address: `${HOST}:${s.port}`,
      adminAddress,
      metric: (name, labels = {}) => s.ctx.metrics.value(name, labels),
      closeLog: async () => [...logs],
      rss: async () => process.memoryUsage().rss,
      backendCloses: async () => {
        const codes: number[] = [];
        for (const c of s.ctx.table.connections()) {
          if (!(c instanceof WsConnection)) continue;
          const sc = c.pipeToward('client').scanner;
          if (sc.closes > 0) codes.push(sc.closeCode);
        }
        return codes;
      },
      fault: async (spec) => {
        if (!s.ctx.faults) throw new Error('this sidecar was started without faults: true');
        return s.ctx.faults.add(parseFaultSpec(spec)).id;
      },
      drain: (opts) => drainOverAdmin(adminAddress, opts),
    };
  }

  async edge(upstream: string): Promise<LabEdge> {
    const e = await startNginx({ upstream });
    this.#own(() => e.stop());
    return { httpUrl: e.httpUrl, httpsUrl: e.httpsUrl };
  }

  async hop(upstream: string, idleTimeoutMs: number): Promise<LabHop> {
    const h = await startHaproxy({ upstream, idleTimeoutMs });
    this.#own(() => h.stop());
    return { url: h.url, address: `${HOST}:${h.port}`, restart: () => h.restart() };
  }

  async pool(sidecars: [LabSidecar, LabSidecar]): Promise<LabPool> {
    const p = await startHaproxyPool({
      servers: [
        { address: sidecars[0].address, checkAddress: sidecars[0].adminAddress },
        { address: sidecars[1].address, checkAddress: sidecars[1].adminAddress },
      ],
    });
    this.#own(() => p.stop());
    return { url: p.url, address: `${HOST}:${p.port}` };
  }

  async faultLink(name: string, upstream: string): Promise<LabFaultLink> {
    const toxi = await this.#toxiproxy();
    const proxyName = `${name}_${++this.#links}`;
    const port = await freePort(HOST);
    const proxy = await toxi.createProxy(proxyName, port, upstream);
    const toxicNames: string[] = [];
    this.#own(async () => {
      await proxy.remove().catch(() => {});
    });
    return {
      url: `http://${HOST}:${port}`,
      address: `${HOST}:${port}`,
      addToxic: async (spec) => {
        const stream = spec.stream ?? 'downstream';
        const toxicName = spec.name ?? `${spec.type}_${stream}`;
        await toxi.addToxic(proxyName, {
          type: spec.type,
          stream,
          name: toxicName,
          attributes: spec.attributes as never,
        });
        toxicNames.push(toxicName);
      },
      clearToxics: async () => {
        for (const t of toxicNames.splice(0)) await toxi.removeToxic(proxyName, t).catch(() => {});
      },
    };
  }

  clientAddresses(n: number): string[] {
    return Array.from({ length: n }, (_, i) => `127.0.0.${2 + (i % 250)}`);
  }

  async releaseAll(): Promise<void> {
    if (this.#prom && this.#scraped.size > 0) {
      // Two more scrapes of every sidecar (the second starting ≥ 1 s from now), so rate() and
      // increase() see the drill's last events before the series go stale.
      const since = Date.now() + 1000;
      await settle(() => this.#scrapedSince([...this.#scraped], since), 4000);
    }
    const stops = this.#stops.splice(0).reverse();
    this.#scope = `lab${Date.now().toString(36)}${this.#links}`;
    for (const stop of stops) {
      try {
        await stop();
      } catch {
        // keep stopping the rest; a component that failed to stop dies with this process
      }
    }
  }

  async close(): Promise<void> {
    await this.releaseAll();
    const shared = [this.#toxi, this.#redis, this.#prom];
    this.#toxi = null;
    this.#redis = null;
    this.#prom = null;
    for (const p of shared) {
      if (!p) continue;
      const c = await p.catch(() => null);
      await c?.stop().catch(() => {});
    }
    if (this.#sdDir) rmSync(this.#sdDir, { recursive: true, force: true });
    this.#sdDir = null;
  }
}
