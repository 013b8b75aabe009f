/**
 * The WebSocket opening handshake written and read by hand (RFC 6455 section 4), so every
 * byte of the answer can be reported: the status line, the headers, and whether
 * Sec-WebSocket-Accept really is the hash of the key we sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { DoctorError } from './errors.js';
import type { Target } from './target.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** An answer head larger than this is not a handshake answer worth reading. */
const MAX_HEAD_BYTES = 64 * 1024;

export function newKey(): string {
  return randomBytes(16).toString('base64');
}

export function expectedAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

export interface UpgradeRequestOptions {
  readonly key: string;
  readonly origin: string;
  readonly protocols: readonly string[];
  readonly extensions: string;
}

export function upgradeRequest(target: Target, opts: UpgradeRequestOptions): string {
  const lines = [
    `GET ${target.path} HTTP/1.1`,
    `Host: ${target.hostHeader}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${opts.key}`,
    'Sec-WebSocket-Version: 13',
    `Origin: ${opts.origin}`,
    'User-Agent: socketlens-doctor',
  ];
  if (opts.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}`);
  if (opts.extensions !== '') lines.push(`Sec-WebSocket-Extensions: ${opts.extensions}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export interface ResponseHead {
  readonly httpVersion: string;
  readonly statusCode: number;
  readonly reason: string;
  /** Lower-cased names; repeated headers joined with ", " as HTTP allows. */
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes that came after the head (WebSocket frames after a 101, or body bytes). */
  readonly rest: Buffer;
}

export function parseHead(text: string, rest: Buffer): ResponseHead {
  const [statusLine, ...headerLines] = text.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m)
    throw new DoctorError(
      'SL_DOCTOR_BAD_RESPONSE',
      `not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { httpVersion: m[1], statusCode: Number(m[2]), reason: m[3] ?? '', headers, rest };
}

/**
 * Reads one response head from the socket. The socket is left paused with no data listener,
 * so the caller can take over the byte stream exactly where the head ended.
 */
export function readResponseHead(socket: Socket, timeoutMs: number): Promise<ResponseHead> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const finish = (err: Error | null, head?: ResponseHead) => {
      clearTimeout(timer);
      socket.pause();
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onError);
      if (err) reject(err);
      else resolve(head!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > MAX_HEAD_BYTES)
          finish(new DoctorError('SL_DOCTOR_BAD_RESPONSE', 'answer head exceeds 64 KiB'));
        return;
      }
      try {
        finish(null, parseHead(buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4)));
      } catch (err) {
        finish(err as Error);
      }
    };
    const onEnd = () =>
      finish(
        new DoctorError(
          'SL_DOCTOR_CLOSED',
          buf.length === 0
            ? 'connection closed (FIN) before any answer'
            : 'connection closed in the middle of the answer head',
        ),
      );
    const onError = (err: NodeJS.ErrnoException) =>
      finish(
        new DoctorError(
          err.code === 'ECONNRESET' ? 'SL_DOCTOR_RESET' : 'SL_DOCTOR_CLOSED',
          err.code === 'ECONNRESET'
            ? 'connection reset (RST) before an answer'
            : `connection failed: ${err.message}`,
          { cause: err },
        ),
      );
    const timer = setTimeout(
      () => finish(new DoctorError('SL_DOCTOR_TIMEOUT', `no answer head within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}

/** Splits a comma-separated header into trimmed tokens (lower-cased when asked). */
export function headerList(value: string | undefined, lower = false): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => (lower ? s.trim().toLowerCase() : s.trim()))
    .filter((s) => s.length > 0);
}

/** The extension names in a Sec-WebSocket-Extensions value ("permessage-deflate; x=1, foo" → two). */
export function extensionNames(value: string | undefined): string[] {
  return headerList(value).map((e) => e.split(';')[0].trim().toLowerCase());
}
