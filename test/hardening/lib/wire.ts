/** Raw-wire helpers for the hardening tests: hand-written upgrade requests and frame decoding. */
import { once } from 'node:events';
import net from 'node:net';
import { TEST_KEY } from '../../helpers/raw.js';

export function upgradeRequest(port: number, path = '/ws', extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${TEST_KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** A connected raw client socket that collects what it receives and whether it was closed. */
export interface RawClient {
  socket: net.Socket;
  received(): Buffer;
  /** Resolves when the socket is fully closed; with the error code if it ended in an error. */
  closed: Promise<string | null>;
  /** True once the peer's FIN arrived. */
  ended(): boolean;
}

/**
 * Opens a raw TCP client. Like a browser it closes its side when the peer's FIN arrives, unless
 * `halfOpen` is set (then the test decides when to end).
 */
export async function rawClient(
  port: number,
  opts: { localAddress?: string; halfOpen?: boolean } = {},
): Promise<RawClient> {
  const socket = net.connect({
    port,
    host: '127.0.0.1',
    allowHalfOpen: true,
    localAddress: opts.localAddress,
  });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let error: string | null = null;
  let ended = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  socket.on('end', () => {
    ended = true;
    if (!opts.halfOpen) socket.end();
  });
  const closed = once(socket, 'close').then(() => error);
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), closed, ended: () => ended };
}

export interface DecodedFrame {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

/** Decodes complete frames (masked or not) from the start of `buf`; stops at an incomplete one. */
export function decodeFrames(buf: Buffer): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  let pos = 0;
  while (pos + 2 <= buf.length) {
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    let len = b1 & 0x7f;
    let p = pos + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buf.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (p + len > buf.length) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
    out.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload });
    pos = p + len;
  }
  return out;
}

/** The response head (up to the blank line) and the bytes after it, or null when incomplete. */
export function splitHead(buf: Buffer): { head: string; rest: Buffer } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  return { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
