/** Writing HTTP/1.1 answers straight onto a socket, for upgrade requests (which have no ServerResponse). */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** Sends a short plain-text error response and closes the socket once it has been written. */
export function writeRawError(
  socket: Socket,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const text = `${body}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  head += 'Content-Type: text/plain; charset=utf-8\r\n';
  head += `Content-Length: ${Buffer.byteLength(text)}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += 'Connection: close\r\n\r\n';
  socket.end(head + text);
  // A client that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** The status line and headers of a response, rebuilt from its raw headers in their original order and case. */
export function rawHead(
  status: number,
  statusMessage: string | undefined,
  rawHeaders: readonly string[],
): string {
  let head = `HTTP/1.1 ${status} ${statusMessage ?? STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}
