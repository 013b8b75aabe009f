/**
 * Readiness probes: poll until a TCP port accepts or an HTTP endpoint answers.
 *
 * Both take an AbortSignal so the process supervisor can stop waiting the moment the child
 * exits, instead of sitting out the full timeout on a process that is already dead.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from './errors.js';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/** One connection attempt; resolves true if the port accepted. */
export function probeTcp(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `check` until it returns true; throws SL_LAB_READY_TIMEOUT describing `what`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, signal }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await check().catch(() => false)) return;
    signal?.throwIfAborted();
    if (Date.now() >= deadline) {
      throw new LabError('SL_LAB_READY_TIMEOUT', `${what} not ready after ${timeoutMs} ms`);
    }
    await sleep(intervalMs);
  }
}

export function waitForPort(port: number, host = '127.0.0.1', options: WaitOptions = {}): Promise<void> {
  return waitUntil(`${host}:${port}`, () => probeTcp(port, host), options);
}

/** Waits for `url` to answer with a 2xx status. */
export function waitForHttp(url: string, options: WaitOptions = {}): Promise<void> {
  return waitUntil(
    url,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    },
    options,
  );
}
