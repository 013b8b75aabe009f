/**
 * Network faults from the real Toxiproxy server (Shopify), started as `toxiproxy-server
 * -host 127.0.0.1 -port N` and driven over its HTTP API with toxiproxy-node-client.
 *
 * toxiproxy-node-client is CommonJS; its exports are plain getters that Node's CJS lexer
 * detects, so the named ESM import below works under NodeNext without a default-import shim.
 * The helpers fill in what the client's typings make mandatory (toxic name, stream, toxicity)
 * and re-throw its errors with context, because the client keeps only "status code N".
 *
 *   const toxi = await startToxiproxy();
 *   await toxi.createProxy('sidecar', listenPort, '127.0.0.1:8080');
 *   await toxi.addToxic('sidecar', { type: 'timeout', attributes: { timeout: 0 } }); // half-open
 *   await toxi.reset();   // every proxy enabled again, every toxic gone
 *   await toxi.stop();
 */
import {
  type Proxy as ToxiProxy,
  type Toxic,
  type ToxicAttributeTypes,
  type ToxicDirection,
  Toxiproxy,
  type ToxicType,
} from 'toxiproxy-node-client';
import { findBinary } from '../binaries.js';
import { freePort, retryOnPortClash } from '../ports.js';
import { startProcess } from '../process.js';
import { prepareWorkDir, type WorkDirOptions } from '../workdir.js';

export interface ToxiproxyOptions extends WorkDirOptions {
  port?: number;
  host?: string;
}

export interface ToxicSpec<T = ToxicAttributeTypes> {
  type: ToxicType;
  attributes: T;
  /** Default: `<type>_<stream>`, so one toxic of each type per direction. */
  name?: string;
  /** `upstream` = client→server, `downstream` = server→client (the default). */
  stream?: ToxicDirection;
  /** Fraction of connections affected, rolled once per connection; default 1. */
  toxicity?: number;
}

export interface ToxiproxyServer {
  readonly port: number;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8474 */
  readonly apiUrl: string;
  readonly client: Toxiproxy;
  readonly workDir: string;
  readonly logPath: string;
  /** Creates a proxy listening on host:listenPort that forwards to `upstream` (host:port). */
  createProxy(name: string, listenPort: number, upstream: string): Promise<ToxiProxy>;
  addToxic<T extends ToxicAttributeTypes>(proxyName: string, spec: ToxicSpec<T>): Promise<Toxic<T>>;
  removeToxic(proxyName: string, toxicName: string): Promise<void>;
  /** Takes a proxy "down" (refuses connections) or back up. Not a toxic. */
  setEnabled(proxyName: string, enabled: boolean): Promise<void>;
  /** Re-enables every proxy and removes every toxic (the proxies stay). */
  reset(): Promise<void>;
  /** Deletes every proxy. */
  removeAll(): Promise<void>;
  stop(): Promise<void>;
}

function withContext(what: string) {
  return (err: unknown): never => {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`toxiproxy: ${what}: ${detail}`, { cause: err });
  };
}

export async function startToxiproxy(opts: ToxiproxyOptions = {}): Promise<ToxiproxyServer> {
  const server = findBinary('toxiproxy-server');
  const work = prepareWorkDir('toxiproxy', opts);
  const host = opts.host ?? '127.0.0.1';
  let port = 0;

  const proc = await retryOnPortClash(async () => {
    port = opts.port ?? (await freePort(host));
    const apiUrl = `http://${host}:${port}`;
    return startProcess({
      name: 'toxiproxy',
      command: server,
      args: ['-host', host, '-port', String(port)],
      workDir: work.path,
      // The API is up when /version answers (a listening socket alone is not the API yet).
      ready: async () => (await fetch(`${apiUrl}/version`, { signal: AbortSignal.timeout(1000) })).ok,
    });
  });

  const apiUrl = `http://${host}:${port}`;
  const client = new Toxiproxy(apiUrl);

  const api = {
    port,
    apiUrl,
    client,
    workDir: work.path,
    logPath: proc.logPath,
    createProxy(name: string, listenPort: number, upstream: string) {
      return client
        .createProxy({ name, listen: `${host}:${listenPort}`, upstream })
        .catch(withContext(`create proxy ${name} (${host}:${listenPort} -> ${upstream})`));
    },
    async addToxic<T extends ToxicAttributeTypes>(proxyName: string, spec: ToxicSpec<T>) {
      const stream = spec.stream ?? 'downstream';
      const proxy = await client.get(proxyName).catch(withContext(`get proxy ${proxyName}`));
      return proxy
        .addToxic<T>({
          name: spec.name ?? `${spec.type}_${stream}`,
          type: spec.type,
          stream,
          toxicity: spec.toxicity ?? 1,
          attributes: spec.attributes,
        })
        .catch(withContext(`add ${spec.type} toxic to ${proxyName}`));
    },
    async removeToxic(proxyName: string, toxicName: string) {
      const proxy = await client.get(proxyName).catch(withContext(`get proxy ${proxyName}`));
      const toxic = await proxy.getToxic(toxicName).catch(withContext(`get toxic ${toxicName}`));
      await toxic.remove().catch(withContext(`remove toxic ${toxicName}`));
    },
    async setEnabled(proxyName: string, enabled: boolean) {
      const proxy = await client.get(proxyName).catch(withContext(`get proxy ${proxyName}`));
      await proxy
        .update({ enabled, listen: proxy.listen, upstream: proxy.upstream })
        .catch(withContext(`${enabled ? 'enable' : 'disable'} ${proxyName}`));
    },
    reset: () => client.reset().catch(withContext('reset')),
    async removeAll() {
      const proxies = await client.getAll().catch(withContext('list proxies'));
      await Promise.all(Object.values(proxies).map((p) => p.remove().catch(withContext(`remove ${p.name}`))));
    },
    async stop() {
      await proc.stop();
      await work.release();
    },
  } satisfies ToxiproxyServer;
  return api;
}
