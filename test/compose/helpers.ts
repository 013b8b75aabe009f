/**
 * Shared helpers of the offline compose / image / manifest checks: the compose file as
 * `docker-compose config` resolves it, its bind mounts mapped back to repository paths, and a
 * small wrapper to run a program with extra environment.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { parse } from 'yaml';
import { findBinary } from '../../lab/runner/binaries.js';
import { repoRoot } from '../../lab/runner/paths.js';

export const ROOT = repoRoot();
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion; never rejects on a non-zero exit (the code is returned).
 * `stdoutFile` sends the child's stdout to a file instead of a socket pair: programs that open
 * /dev/stdout themselves (nginx logging to it, as in containers) cannot open a socket that way.
 */
export function run(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; stdoutFile?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const outFd = opts.stdoutFile === undefined ? undefined : openSync(opts.stdoutFile, 'w');
    const child = spawn(command, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 30_000,
      stdio: ['ignore', outFd ?? 'pipe', 'pipe'],
    });
    if (outFd !== undefined) closeSync(outFd);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (opts.stdoutFile !== undefined) stdout = readFileSync(opts.stdoutFile, 'utf8');
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

export interface BindMount {
  type: 'bind';
  /** Absolute host path, as `docker-compose config` resolves it. */
  source: string;
  target: string;
  read_only?: boolean;
}

export interface VolumeMount {
  type: 'volume';
  source: string;
  target: string;
  read_only?: boolean;
}

export type Mount = BindMount | VolumeMount;

export interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: Mount[];
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

export interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface ResolvedCompose {
  result: RunResult;
  config: ComposeConfig;
}

let resolved: Promise<ResolvedCompose> | undefined;

/**
 * `docker-compose -f docker-compose.yml config` (Debian's v1.29, no engine needed): validates the
 * file against its schema and prints it with variables interpolated and paths made absolute.
 * Run with an environment free of the file's variables, so the defaults are what is checked.
 */
export function composeConfig(): Promise<ResolvedCompose> {
  resolved ??= (async () => {
    // PWD as a shell in the repository has it: the drills service mounts the repository there.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PWD: repoRoot() };
    const result = await run(findBinary('docker-compose'), ['-f', COMPOSE_FILE, 'config'], { env });
    const config = (result.code === 0 ? parse(result.stdout) : { services: {} }) as ComposeConfig;
    return { result, config };
  })();
  return resolved;
}

/** The raw file, anchors merged: what a reader of docker-compose.yml sees. */
export function rawCompose(): ComposeConfig {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeConfig;
}

export function service(config: ComposeConfig, name: string): ComposeService {
  const s = config.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

export function bindMounts(s: ComposeService): BindMount[] {
  return (s.volumes ?? []).filter((m): m is BindMount => m.type === 'bind');
}

/** The host path mounted at `target` in service `s` (throws if nothing is). */
export function hostPathOf(s: ComposeService, target: string): string {
  const m = bindMounts(s).find((b) => b.target === target);
  if (!m) throw new Error(`no bind mount with target ${target}`);
  return m.source;
}

/**
 * Maps a path inside a container back to the host through the service's bind mounts (the
 * longest mount target that is a prefix wins); undefined when no bind mount covers it.
 */
export function hostPathFor(s: ComposeService, containerPath: string): string | undefined {
  let best: BindMount | undefined;
  for (const m of bindMounts(s)) {
    const covers = containerPath === m.target || containerPath.startsWith(`${m.target}/`);
    if (covers && (!best || m.target.length > best.target.length)) best = m;
  }
  if (!best) return undefined;
  return join(best.source, containerPath.slice(best.target.length));
}

/** Repository-relative form of an absolute host path, with forward slashes. */
export function repoRelative(path: string): string {
  const rel = relative(ROOT, path);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside the repository`);
  return rel.split(sep).join('/');
}

/** host:port → port (the last colon wins, so IPv6 hosts in brackets work too). */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
