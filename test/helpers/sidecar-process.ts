/** Runs the real `socketlens proxy` CLI as a child process, for tests that need its own process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitUntil } from './raw.js';

export interface SidecarProcess {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Resident set size of the process, in bytes. */
  rss(): number;
  kill(): void;
}

/** Starts `socketlens proxy --listen 127.0.0.1:0 --target <target> ...args` and waits until it listens. */
export async function startSidecarProcess(
  target: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<SidecarProcess> {
  const child = spawn(
    process.execPath,
    ['bin/socketlens.js', 'proxy', '--listen', '127.0.0.1:0', '--target', target, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    err += c;
  });
  const listening = /proxying http:\/\/127\.0\.0\.1:(\d+)/;
  await waitUntil(() => listening.test(err) || child.exitCode !== null, 5000, 'sidecar start');
  if (child.exitCode !== null) throw new Error(`sidecar exited ${child.exitCode}: ${err}`);
  return {
    child,
    port: Number(listening.exec(err)![1]),
    stdout: () => out,
    stderr: () => err,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}
