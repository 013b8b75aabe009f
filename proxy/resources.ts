/**
 * The sidecar's own resource exhaustion (file descriptors, kernel buffers, memory), told apart
 * from a backend's failure: when opening a socket to the backend fails with one of these codes,
 * the fault is ours, not the backend's.
 */
import type { Clock } from './clock.js';

const EXHAUSTION_CODES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

export function isResourceExhaustion(code: string | undefined): boolean {
  return code !== undefined && EXHAUSTION_CODES.has(code);
}

/** Writes one stderr line per code at most every `everyMs`, so a flood of failures stays readable. */
export function exhaustionReporter(
  clock: Clock,
  write: (line: string) => void = (l) => process.stderr.write(l),
  everyMs = 10_000,
) {
  const last = new Map<string, number>();
  let suppressed = 0;
  return (code: string, where: string): void => {
    const now = clock.now();
    const prev = last.get(code);
    if (prev !== undefined && now - prev < everyMs) {
      suppressed++;
      return;
    }
    last.set(code, now);
    const more = suppressed > 0 ? ` (${suppressed} more since the last report)` : '';
    suppressed = 0;
    write(`socketlens: resource exhausted (${code}) while ${where}; refusing with 503${more}\n`);
  };
}
