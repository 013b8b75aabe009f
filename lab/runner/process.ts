/**
 * Supervises one child process of the lab: start, wait until it serves, stop, restart.
 *
 * - Output goes to `<workDir>/<name>.log` (appended across restarts), never to our stdout,
 *   so a chatty nginx cannot interleave with test output and the log survives for a post-mortem.
 * - Each child leads its own process group (`detached`), and signals go to the whole group, so
 *   nginx/haproxy workers die with their master.
 * - Stop is SIGTERM (or the spec's signal), then SIGKILL after `stopTimeoutMs`.
 * - No orphans: every live group is SIGKILLed when this Node process exits, including by
 *   process.exit(), an uncaught exception or SIGINT/SIGTERM/SIGHUP. (A SIGKILL of the parent
 *   cannot be intercepted by anyone; `.lab/*` logs then tell you what was left.)
 * - Children are unref'd: a running component does not by itself keep Node alive. A long-running
 *   lab keeps its own handles (servers, timers) and calls stop() on the way out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from './errors.js';
import { waitForPort, waitUntil } from './wait.js';

export type ReadyCheck = { port: number; host?: string } | (() => Promise<boolean>);

export interface ProcessSpec {
  /** Short name, used for the log file and in error messages. */
  name: string;
  /** Absolute path of the executable (see findBinary). */
  command: string;
  args: readonly string[];
  /** Directory for the log file; also the child's cwd unless `cwd` is given. */
  workDir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** What "started" means: a TCP port that accepts, or a custom probe. Omit to not wait. */
  ready?: ReadyCheck;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  stopSignal?: NodeJS.Signals;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  /** Pid of the current incarnation, undefined while stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Resolves when the current incarnation exits (at once if stopped). */
  exited(): Promise<ExitInfo>;
  /** Sends a signal to the whole process group (e.g. SIGHUP for a reload). */
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
  /** Stops, starts again with the same command line, and waits until ready. */
  restart(): Promise<void>;
  /** The last `lines` lines of the log file. */
  logTail(lines?: number): string;
}

// ---- orphan guard ------------------------------------------------------------------------

/** Process-group ids of children that are still running. */
const liveGroups = new Set<number>();
let guardsInstalled = false;

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function installOrphanGuards(): void {
  if (guardsInstalled) return;
  guardsInstalled = true;
  // 'exit' handlers must be synchronous; process.kill is.
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
      liveGroups.clear();
      // If nobody else handles the signal, keep its default meaning: terminate.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

// ---- log helpers -------------------------------------------------------------------------

export function readLogTail(path: string, lines = 20): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 16 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf
      .toString('utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } finally {
    closeSync(fd);
  }
}

function describeExit({ code, signal }: ExitInfo): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

// ---- supervisor --------------------------------------------------------------------------

class Supervisor implements ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  private readonly spec: ProcessSpec;
  private child: ChildProcess | undefined;
  private exit: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private stopping: Promise<void> | undefined;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.logPath = join(spec.workDir, `${spec.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  exited(): Promise<ExitInfo> {
    return this.exit;
  }

  logTail(lines = 20): string {
    return readLogTail(this.logPath, lines);
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid !== undefined) killGroup(pid, sig);
  }

  async start(): Promise<void> {
    const { command, args } = this.spec;
    const log = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      writeSync(log, `--- ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
      child = spawn(command, args, {
        cwd: this.spec.cwd ?? this.spec.workDir,
        env: this.spec.env ?? process.env,
        stdio: ['ignore', log, log],
        detached: true,
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(log);
    }
    installOrphanGuards();
    this.child = child;
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    child.unref();
    this.exit = new Promise<ExitInfo>((resolve) => {
      const finish = (info: ExitInfo) => {
        if (pid !== undefined) {
          liveGroups.delete(pid);
          // Workers that outlived their leader (e.g. nginx after a SIGKILL of the master).
          killGroup(pid, 'SIGKILL');
        }
        if (this.child === child) this.child = undefined;
        resolve(info);
      };
      child.once('exit', (code, signal) => finish({ code, signal }));
      child.once('error', (err) => {
        // Spawn failure (ENOENT, EACCES): there is no process and no 'exit' event.
        appendFileSync(this.logPath, `spawn error: ${err.message}\n`);
        finish({ code: null, signal: null });
      });
    });
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const { ready, readyTimeoutMs = 15_000, name } = this.spec;
    if (ready === undefined) return;
    const died = new AbortController();
    let exitInfo: ExitInfo | undefined;
    void this.exit.then((info) => {
      exitInfo = info;
      died.abort();
    });
    const options = { timeoutMs: readyTimeoutMs, signal: died.signal };
    try {
      if (typeof ready === 'function') await waitUntil(name, ready, options);
      else await waitForPort(ready.port, ready.host ?? '127.0.0.1', options);
    } catch (err) {
      if (exitInfo !== undefined) {
        // Give the log a moment: the child may have died before flushing its last words.
        await sleep(20);
        const tail = this.logTail();
        throw new LabError(
          'SL_LAB_PROCESS_EXITED',
          `${name} ${describeExit(exitInfo)} before it was ready (log: ${this.logPath})\n${tail}`,
          { logTail: tail },
        );
      }
      await this.stop();
      const tail = this.logTail();
      throw new LabError(
        'SL_LAB_READY_TIMEOUT',
        `${name} not ready after ${readyTimeoutMs} ms (log: ${this.logPath})\n${tail}`,
        { cause: err, logTail: tail },
      );
    }
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const child = this.child;
    if (child?.pid === undefined) return Promise.resolve();
    const pid = child.pid;
    const { stopTimeoutMs = 5000, stopSignal = 'SIGTERM' } = this.spec;
    const exit = this.exit;
    this.stopping = (async () => {
      // While stopping, the child must keep Node alive, or awaiting its exit could end the loop.
      child.ref();
      killGroup(pid, stopSignal);
      const cancelTimer = new AbortController();
      const timer = sleep(stopTimeoutMs, 'timeout' as const, { signal: cancelTimer.signal }).catch(
        () => 'exited',
      );
      const outcome = await Promise.race([exit, timer]);
      cancelTimer.abort();
      if (outcome === 'timeout') {
        killGroup(pid, 'SIGKILL');
        await exit;
      }
    })().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** Starts the process and resolves once it is ready (or throws a coded LabError). */
export async function startProcess(spec: ProcessSpec): Promise<ManagedProcess> {
  const supervisor = new Supervisor(spec);
  await supervisor.start();
  return supervisor;
}
