/**
 * The TLS edge: a real nginx in front of the sidecar, rendered from
 * lab/configs/nginx/edge.conf.template (shared with docker-compose) and wrapped in
 * runner-main.conf.template so it runs unprivileged: its own -p prefix, pid file, temp paths
 * and logs in the instance work dir, `daemon off`, as the current user.
 *
 * Locations (see the template): `/` proxies correctly (Upgrade pair, no buffering),
 * `/stripped/` drops the Upgrade pair, `/buffered/` buffers streams. Both prefixes are removed
 * before the request reaches the upstream, so `/stripped/ws` arrives as `/ws`.
 *
 *   const edge = await startNginx({ upstream: '127.0.0.1:8080' });
 *   new WebSocket(`${edge.httpsUrl.replace('https', 'wss')}/ws`, { rejectUnauthorized: false });
 *   await edge.stop();
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { runCommand } from '../command.js';
import { configPath } from '../paths.js';
import { freePort, retryOnPortClash } from '../ports.js';
import { startProcess } from '../process.js';
import { renderTemplateFile } from '../template.js';
import { makeSelfSignedCert } from '../tls.js';
import { probeTcp, waitUntil } from '../wait.js';
import { prepareWorkDir, type WorkDirOptions } from '../workdir.js';

export interface NginxOptions extends WorkDirOptions {
  /** host:port of the upstream (normally the sidecar). */
  upstream: string;
  httpsPort?: number;
  httpPort?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
}

export interface NginxEdge {
  readonly httpsPort: number;
  readonly httpPort: number;
  /** https://127.0.0.1:<httpsPort> (self-signed: disable verification or trust certPath). */
  readonly httpsUrl: string;
  readonly httpUrl: string;
  readonly certPath: string;
  readonly workDir: string;
  readonly logPath: string;
  readonly pid: number | undefined;
  /**
   * Re-renders the config (optionally for a new upstream), checks it with `nginx -t`,
   * and reloads gracefully; resolves once nginx has acknowledged the reload.
   */
  reload(opts?: { upstream?: string }): Promise<void>;
  stop(): Promise<void>;
}

export async function startNginx(opts: NginxOptions): Promise<NginxEdge> {
  const nginx = findBinary('nginx');
  const work = prepareWorkDir('nginx', opts);
  const dir = work.path;
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, 'tmp', sub), { recursive: true });
  }
  const { certPath, keyPath } = await makeSelfSignedCert(dir);
  const host = opts.host ?? '127.0.0.1';
  const edgeConf = join(dir, 'edge.conf');
  const mainConf = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'error.log');
  // Workers of a root master switch to `nobody`, who cannot write our temp dirs; keep them root.
  const userDirective = userInfo().uid === 0 ? 'user root;' : '';

  let upstream = opts.upstream;
  let ports = { https: 0, http: 0 };
  const writeConfig = () => {
    writeFileSync(
      edgeConf,
      renderTemplateFile(configPath('nginx', 'edge.conf.template'), {
        LISTEN_ADDR: host,
        HTTPS_PORT: ports.https,
        HTTP_PORT: ports.http,
        UPSTREAM: upstream,
        TLS_CERT: certPath,
        TLS_KEY: keyPath,
        ACCESS_LOG: join(dir, 'access.log'),
      }),
    );
    writeFileSync(
      mainConf,
      renderTemplateFile(configPath('nginx', 'runner-main.conf.template'), {
        WORK_DIR: dir,
        USER_DIRECTIVE: userDirective,
        EDGE_CONF: edgeConf,
      }),
    );
  };
  // -e points the early error log (before the config is read) into the work dir too.
  const args = ['-p', `${dir}/`, '-c', mainConf, '-e', errorLog];

  const proc = await retryOnPortClash(async () => {
    ports = {
      https: opts.httpsPort ?? (await freePort(host)),
      http: opts.httpPort ?? (await freePort(host)),
    };
    writeConfig();
    return startProcess({
      name: 'nginx',
      command: nginx,
      args,
      workDir: dir,
      // Ready when both listeners accept; the second is bound in the same step, but be exact.
      ready: async () => {
        return (await probeTcp(ports.https, host)) && (await probeTcp(ports.http, host));
      },
    });
  });

  const countReloads = async () => {
    const text = await readFile(errorLog, 'utf8').catch(() => '');
    return text.split('reconfiguring').length - 1;
  };

  return {
    httpsPort: ports.https,
    httpPort: ports.http,
    httpsUrl: `https://${host}:${ports.https}`,
    httpUrl: `http://${host}:${ports.http}`,
    certPath,
    workDir: dir,
    logPath: errorLog,
    get pid() {
      return proc.pid;
    },
    async reload(reloadOpts = {}) {
      if (reloadOpts.upstream !== undefined) upstream = reloadOpts.upstream;
      writeConfig();
      // A config nginx rejects on SIGHUP is only logged; test it first so the caller hears about it.
      await runCommand(nginx, ['-t', ...args]);
      const before = await countReloads();
      proc.signal('SIGHUP');
      await waitUntil('nginx reload', async () => (await countReloads()) > before, { timeoutMs: 5000 });
    },
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}
