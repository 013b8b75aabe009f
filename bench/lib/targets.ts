/**
 * The five things a workload can run against, each a fresh process (group) per round:
 * direct (the backend itself), sidecar, nginx, haproxy and pipe, plus the backend they all
 * forward to.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../../lab/runner/binaries.js';
import { startHaproxy } from '../../lab/runner/components/haproxy.js';
import { startNginx } from '../../lab/runner/components/nginx.js';
import { repoRoot } from '../../lab/runner/paths.js';
import { freePort, retryOnPortClash } from '../../lab/runner/ports.js';
import { type ManagedProcess, startProcess } from '../../lab/runner/process.js';
import { prepareWorkDir } from '../../lab/runner/workdir.js';
import { groupPids, pin, withChildAffinity } from './procs.js';

/**
 * `sidecar-noproto` is the sidecar with `--protocols none` (no decoder runs): side by side with
 * `sidecar`, it gives the cost of decoding. Not in the default set.
 */
export const TARGETS = ['direct', 'sidecar', 'nginx', 'haproxy', 'pipe', 'sidecar-noproto'] as const;
export const DEFAULT_TARGETS: readonly TargetName[] = ['direct', 'sidecar', 'nginx', 'haproxy', 'pipe'];
export type TargetName = (typeof TARGETS)[number];

export interface Running {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Leader of the process group whose CPU and RSS count as this target's (null for direct). */
  readonly pgid: number | null;
  pids(): number[];
  /** The sidecar's admin server (for its ws_connections_active gauge). */
  readonly adminUrl?: string;
  stop(): Promise<void>;
}

export interface Placement {
  /** CPU list for the proxy under test, e.g. "1"; null = no pinning. */
  proxyCpus: string | null;
  /** CPU list for the backend and the generator, e.g. "0". */
  loadCpus: string | null;
}

const HOST = '127.0.0.1';

function distFile(rel: string): string {
  return fileURLToPath(new URL(rel, import.meta.url));
}

/**
 * Extra Node flags for the Node targets (sidecar, pipe), e.g. for profiling:
 * SOCKETLENS_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
function benchNodeArgs(name: string): string[] {
  if (name === 'backend') return [];
  return (process.env.SOCKETLENS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

async function startNode(name: string, script: string, args: (port: number) => string[]): Promise<Running> {
  const work = prepareWorkDir(`bench-${name}`);
  let port = 0;
  const proc: ManagedProcess = await retryOnPortClash(async () => {
    port = await freePort(HOST);
    return startProcess({
      name,
      command: process.execPath,
      args: [...benchNodeArgs(name), script, ...args(port)],
      workDir: work.path,
      cwd: repoRoot(),
      ready: { port, host: HOST },
    });
  });
  const pgid = proc.pid ?? null;
  return {
    name,
    host: HOST,
    port,
    pgid,
    pids: () => (pgid === null ? [] : groupPids(pgid)),
    async stop() {
      await proc.stop();
      await work.release();
    },
  };
}

export function startBackend(place: Placement): Promise<Running> {
  return withChildAffinity(place.loadCpus, place.loadCpus, () =>
    startNode('backend', distFile('../backend.js'), (port) => ['--host', HOST, '--port', String(port)]),
  );
}

export async function startTarget(name: TargetName, backend: Running, place: Placement): Promise<Running> {
  const upstream = `${backend.host}:${backend.port}`;
  if (name === 'direct') {
    return { ...backend, name: 'direct', pgid: null, pids: () => [], stop: async () => {} };
  }
  const t = await withChildAffinity(place.proxyCpus, place.loadCpus, async (): Promise<Running> => {
    switch (name) {
      case 'sidecar':
      case 'sidecar-noproto': {
        const admin = await freePort(HOST);
        const sidecar = await startNode(name, `${repoRoot()}/bin/socketlens.js`, (port) => [
          'proxy',
          '--listen',
          `${HOST}:${port}`,
          '--target',
          `http://${upstream}`,
          '--admin',
          `${HOST}:${admin}`,
          '--log',
          'off',
          ...(name === 'sidecar-noproto' ? ['--protocols', 'none'] : []),
        ]);
        return { ...sidecar, adminUrl: `http://${HOST}:${admin}` };
      }
      case 'pipe':
        return startNode('pipe', distFile('../targets/node-pipe.js'), (port) => [
          '--listen',
          `${HOST}:${port}`,
          '--target',
          `http://${upstream}`,
        ]);
      case 'nginx': {
        const edge = await startNginx({ upstream });
        const pgid = edge.pid ?? null;
        return {
          name,
          host: HOST,
          port: edge.httpPort,
          pgid,
          pids: () => (pgid === null ? [] : groupPids(pgid)),
          stop: () => edge.stop(),
        };
      }
      case 'haproxy': {
        // Long idle/tunnel timeout: the lab's ALB-like default would cut idle benchmark sockets.
        const hop = await startHaproxy({ upstream, idleTimeoutMs: 3_600_000, clientFinTimeoutMs: 1000 });
        const pgid = hop.pid ?? null;
        return {
          name,
          host: HOST,
          port: hop.port,
          pgid,
          pids: () => (pgid === null ? [] : groupPids(pgid)),
          stop: () => hop.stop(),
        };
      }
    }
  });
  // Belt and braces: every thread of every process in the group (nginx's forked worker too).
  if (place.proxyCpus !== null) for (const pid of t.pids()) pin(pid, place.proxyCpus);
  return t;
}

/** Versions of the real components, for the report. */
export function componentVersions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  const ask = (bin: string, args: string[]) => {
    try {
      const path = findBinary(bin);
      // nginx -v prints to stderr; capture both streams.
      return execFileSync('/bin/sh', ['-c', `"${path}" ${args.join(' ')} 2>&1`], { encoding: 'utf8' })
        .split('\n')[0]
        .trim();
    } catch {
      return 'not found';
    }
  };
  out.nginx = ask('nginx', ['-v']);
  out.haproxy = ask('haproxy', ['-v']);
  return out;
}
