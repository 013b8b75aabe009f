/**
 * The sidecar's own resource exhaustion (file descriptors, kernel buffers, memory), told apart
 * from a backend's failure: when opening a socket to the backend, or accepting a client, fails
 * with one of these codes, the fault is ours, not the backend's or the client's.
 *
 * What cannot be counted: when accept() fails with EMFILE/ENFILE, libuv (since 1.x, in
 * uv__server_io) frees a descriptor it keeps in reserve, accepts every pending connection and
 * closes it at once, then takes its reserve back. Those clients see a reset, and neither Node nor
 * this process is told how many there were. Only when libuv has no reserve left does the error
 * reach the server's 'error' event, which is counted here with where="accept".
 */
import type { Clock } from './clock.js';
import { EXHAUSTION_CODES, type ExhaustionPlace } from './metrics/definitions.js';
import type { SidecarMetrics } from './metrics/registry.js';

const CODES: ReadonlySet<string> = new Set(EXHAUSTION_CODES);

export function isResourceExhaustion(code: string | undefined): boolean {
  return code !== undefined && CODES.has(code);
}

const WHAT: Record<ExhaustionPlace, string> = {
  upgrade: 'connecting to the backend for an upgrade; answering 503',
  http: 'connecting to the backend for a request; answering 503',
  accept: 'accepting a client connection; the client was reset',
};

/**
 * Counts every exhaustion in socketlens_resource_exhaustion_total and writes one stderr line per
 * place and code at most every `everyMs`, so a flood of failures stays readable.
 */
export function exhaustionReporter(
  clock: Clock,
  metrics: Pick<SidecarMetrics, 'resourceExhaustion'>,
  write: (line: string) => void = (l) => process.stderr.write(l),
  everyMs = 10_000,
) {
  const last = new Map<string, number>();
  const suppressed = new Map<string, number>();
  return (code: string, where: ExhaustionPlace): void => {
    metrics.resourceExhaustion.labels(where, code).inc();
    const key = `${where} ${code}`;
    const now = clock.now();
    const prev = last.get(key);
    if (prev !== undefined && now - prev < everyMs) {
      suppressed.set(key, (suppressed.get(key) ?? 0) + 1);
      return;
    }
    last.set(key, now);
    const n = suppressed.get(key) ?? 0;
    suppressed.delete(key);
    const more = n > 0 ? ` (${n} more since the last report)` : '';
    write(`socketlens: resource exhausted (${code}) while ${WHAT[where]}${more}\n`);
  };
}
