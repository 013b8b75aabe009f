/**
 * What a target process costs, read from /proc: CPU time and RSS summed over its whole process
 * group (nginx = master + worker; the lab's starters make each child a group leader), and CPU
 * pinning with taskset.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const CLK_TCK = 100; // USER_HZ is 100 on every Linux ABI Node supports
const PAGE = 4096;

interface StatLine {
  pid: number;
  pgrp: number;
  ticks: number;
  rssBytes: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces; fields after it are split at the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): pgrp = field 5, utime = 14, stime = 15, rss = 24.
  return {
    pid,
    pgrp: Number(f[2]),
    ticks: Number(f[11]) + Number(f[12]),
    rssBytes: Number(f[21]) * PAGE,
  };
}

/** Pids of every live process in the group led by `pgid`. */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s && s.pgrp === pgid) pids.push(pid);
  }
  return pids;
}

export interface GroupSample {
  cpuSeconds: number;
  rssBytes: number;
  at: number;
}

/**
 * Times the kernel took the CPU from one of the group's threads while it could still run
 * (involuntary context switches of every thread; an exited process counts 0).
 */
export function groupPreemptions(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) n += preemptions(pid);
  return n;
}

function preemptions(pid: number): number {
  let n = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      const m = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(
        readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'),
      );
      if (m) n += Number(m[1]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return n;
}

/** CPU seconds and RSS of the group's processes right now. */
export function sampleGroup(pids: readonly number[]): GroupSample {
  let cpu = 0;
  let rss = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (!s) continue;
    cpu += s.ticks / CLK_TCK;
    rss += s.rssBytes;
  }
  return { cpuSeconds: cpu, rssBytes: rss, at: performance.now() };
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(a: GroupSample, b: GroupSample): number {
  const wall = (b.at - a.at) / 1000;
  return wall > 0 ? ((b.cpuSeconds - a.cpuSeconds) / wall) * 100 : Number.NaN;
}

/** CPU time of this (generator) process, every thread included. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

let tasksetPath: string | null | undefined;

export function taskset(): string | null {
  if (tasksetPath !== undefined) return tasksetPath;
  tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p)) ?? null;
  return tasksetPath;
}

/** Pinning is used when taskset exists and there are at least 2 CPUs. */
export function canPin(): boolean {
  return taskset() !== null && availableParallelism() >= 2 && process.platform === 'linux';
}

/** Pins a process; `allThreads` covers every thread it already has (new ones inherit). */
export function pin(pid: number, cpus: string, allThreads = true): void {
  const ts = taskset();
  if (!ts) return;
  try {
    execFileSync(ts, [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch {
    // The process may have exited in between; pinning is best effort.
  }
}

/**
 * Runs `start` with the calling (main) thread pinned to `cpus`, so children spawned inside it
 * inherit that affinity from their first instruction (HAProxy sizes its thread count from it),
 * then puts the main thread back on `restore`.
 */
export async function withChildAffinity<T>(
  cpus: string | null,
  restore: string | null,
  start: () => Promise<T>,
): Promise<T> {
  if (cpus === null || !canPin()) return start();
  pin(process.pid, cpus, false);
  try {
    return await start();
  } finally {
    if (restore !== null) pin(process.pid, restore, false);
  }
}

/** Busy CPU seconds of the whole machine (all CPUs, every process), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - f[3] - f[4]) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}
