/**
 * The `docker compose` command line, spawned directly: one call = one child process, and every
 * failure is a LabError (SL_LAB_COMPOSE) naming the command, its exit code and the last lines of
 * its stderr, so `socketlens lab --env compose` prints what went wrong instead of an object.
 *
 *   const cli = new ComposeCli({ projectDir: '/repo', file: 'docker-compose.yml' });
 *   await cli.run(['up', '-d', '--no-deps', 'sidecar-1'], { env: { SIDECAR_1_TARGET: '...' } });
 *   const port = await cli.port('sidecar-1', 8080); // 49153
 */
import { spawn } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import { LabError } from '../runner/errors.js';

export interface ComposeCliOptions {
  /** Directory relative bind mounts resolve against (on the Docker host). */
  projectDir: string;
  /** The compose file: absolute, or relative to projectDir. */
  file: string;
  /** Project name; default compose's own (the project directory's base name). */
  projectName?: string;
  /** The docker CLI; default `docker` on PATH (or SOCKETLENS_DOCKER). */
  docker?: string;
}

export interface ComposeResult {
  stdout: string;
  stderr: string;
}

/** Lines of stderr a failure message carries. */
const STDERR_TAIL_LINES = 12;

export function stderrTail(stderr: string, lines = STDERR_TAIL_LINES): string {
  return stderr.trimEnd().split('\n').slice(-lines).join('\n');
}

/** `docker compose ...` as one shell-quoted line, for messages. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs `docker ARGS`; rejects with SL_LAB_COMPOSE naming the command, exit code and stderr tail. */
export function runDocker(
  argv: readonly string[],
  opts: { env?: Record<string, string>; docker?: string } = {},
): Promise<ComposeResult> {
  const docker = opts.docker ?? process.env.SOCKETLENS_DOCKER ?? 'docker';
  const shown = `${docker} ${commandLine(argv)}`;
  return new Promise((resolve, reject) => {
    const child = spawn(docker, argv, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(
        new LabError('SL_LAB_COMPOSE', `compose lab: cannot run \`${shown}\`: ${e.message}`, { cause: e }),
      ),
    );
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = stderrTail(stderr);
      const status = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(
        new LabError(
          'SL_LAB_COMPOSE',
          `compose lab: \`${shown}\` failed (${status})${tail ? `:\n${tail.replace(/^/gm, '  ')}` : ''}`,
          { logTail: tail },
        ),
      );
    });
  });
}

export class ComposeCli {
  readonly #docker: string;
  readonly #global: string[];

  constructor(opts: ComposeCliOptions) {
    this.#docker = opts.docker ?? process.env.SOCKETLENS_DOCKER ?? 'docker';
    const file = isAbsolute(opts.file) ? opts.file : join(opts.projectDir, opts.file);
    this.#global = ['compose', '-f', file, '--project-directory', opts.projectDir];
    if (opts.projectName) this.#global.push('-p', opts.projectName);
  }

  /** The full argv of a call, without the docker binary; for messages and tests. */
  argv(args: readonly string[]): string[] {
    return [...this.#global, ...args];
  }

  /**
   * Runs one compose command. `env` adds to (and, with '' values, blanks out) the caller's
   * environment for variable interpolation. Rejects with SL_LAB_COMPOSE on a non-zero exit or a
   * spawn failure (docker not installed).
   */
  run(args: readonly string[], opts: { env?: Record<string, string> } = {}): Promise<ComposeResult> {
    return runDocker(this.argv(args), { ...opts, docker: this.#docker });
  }

  /** The host port a service's container port is published on (`docker compose port`). */
  async port(service: string, containerPort: number): Promise<number> {
    const { stdout } = await this.run(['port', service, String(containerPort)]);
    const m = /:(\d+)\s*$/.exec(stdout.trim().split('\n')[0] ?? '');
    if (!m) {
      throw new LabError(
        'SL_LAB_COMPOSE',
        `compose lab: ${service} does not publish ${containerPort} (is it running? \`docker compose ps\`)`,
      );
    }
    return Number(m[1]);
  }
}
