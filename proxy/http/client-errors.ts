/**
 * Answers to clients whose request never became one: malformed request lines, oversize
 * headers, requests that were not finished in time. Each is counted once, by reason, in
 * socketlens_client_errors_total (a request that never completed is not a handshake: the
 * handshake families count only requests that were read whole), and answered with a plain HTTP
 * error when the socket can still take one, never with a crash.
 */
import type { Socket } from 'node:net';
import type { SidecarMetrics } from '../metrics/registry.js';
import { writeRawError } from './raw-response.js';

const BY_CODE: Record<string, { status: number; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'header_overflow' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'timeout' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, reason: 'timeout' },
};

export function createClientErrorHandler(metrics: SidecarMetrics) {
  // Node reports every later error of a socket it already reported (the client's reset after
  // our 408, say) as another client error: one socket, one event.
  const reported = new WeakSet<Socket>();
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (reported.has(socket)) {
      socket.destroy();
      return;
    }
    reported.add(socket);
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      // The client went away: nothing to answer.
      metrics.clientErrors.labels('client_reset').inc();
      socket.destroy();
      return;
    }
    const known = BY_CODE[code] ?? { status: 400, reason: 'bad_request' };
    metrics.clientErrors.labels(known.reason).inc();
    writeRawError(socket, known.status, `socketlens: ${known.reason.replace('_', ' ')}`);
  };
}
