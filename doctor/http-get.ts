/**
 * A timed GET over a connection doctor opens itself (so DNS, TCP and TLS are timed the same way
 * for every probe). Node's HTTP parser does the framing; we only watch the clock.
 */
import http, { type IncomingMessage } from 'node:http';
import { openConnection } from './connect.js';
import { DoctorError, describeError } from './errors.js';
import type { Target } from './target.js';

export interface TimedResponse {
  readonly res: IncomingMessage;
  /** ms from sending the request to the response headers. */
  readonly headersMs: number;
  readonly sentAt: number;
}

/**
 * Connects to `target` and GETs `path`. Rejects with SL_DOCTOR_NO_HEADERS when the server (or a
 * hop) holds the request without answering, which the streaming probes read as a finding.
 */
export async function timedGet(
  target: Target,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<TimedResponse> {
  const conn = await openConnection(target, { timeoutMs });
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const req = http.request({
      method: 'GET',
      path,
      headers: { host: target.hostHeader, 'user-agent': 'socketlens-doctor', ...headers },
      // Hand over the socket we already connected (TLS included). No `agent` on purpose: with
      // agent: false Node makes a fresh Agent, which would dial on its own and ignore this.
      createConnection: () => conn.socket,
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new DoctorError('SL_DOCTOR_NO_HEADERS', `no response headers within ${timeoutMs} ms`));
    }, timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve({ res, headersMs: performance.now() - sentAt, sentAt });
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(
        err instanceof DoctorError
          ? err
          : new DoctorError('SL_DOCTOR_CLOSED', describeError(err), { cause: err }),
      );
    });
    req.end();
  });
}
