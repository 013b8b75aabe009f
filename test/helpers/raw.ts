/** Raw TCP peers that speak the WebSocket handshake by hand, so tests see every byte on the wire. */
import net from 'node:net';
import { once } from 'node:events';
import { acceptKey } from './frames.js';

export const TEST_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Collects every byte a socket receives. */
export class Recorder {
  private chunks: Buffer[] = [];
  length = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  constructor(socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.add(c));
  }
  add(c: Buffer): void {
    this.chunks.push(c);
    this.length += c.length;
    this.waiters = this.waiters.filter((w) => {
      if (this.length >= w.n) w.resolve();
      return this.length < w.n;
    });
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** Resolves once at least n bytes arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    if (this.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`waited for ${n} bytes, got ${this.length}`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }
}

export interface RawBackend {
  port: number;
  /** Resolves with each accepted, upgraded connection. */
  next(): Promise<RawPeer>;
  /** Request heads received, as text. */
  heads: string[];
  close(): Promise<void>;
}

export interface RawPeer {
  socket: net.Socket;
  recv: Recorder;
  head: string;
}

/**
 * A backend that answers each upgrade request with a hand-written 101 (or with `answer` if
 * given) and then records the bytes it receives.
 */
export async function startRawBackend(
  opts: {
    answer?: (head: string) => string | null;
    extension?: string;
    afterHead?: Buffer;
    halfOpen?: boolean;
  } = {},
): Promise<RawBackend> {
  const heads: string[] = [];
  const queue: RawPeer[] = [];
  const waiting: Array<(p: RawPeer) => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: opts.halfOpen ?? false }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.subarray(end + 4);
      heads.push(head);
      const custom = opts.answer?.(head);
      if (custom) {
        socket.end(custom);
        return;
      }
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
      const peer: RawPeer = { socket, recv: new Recorder(socket), head };
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
          (opts.extension ? `Sec-WebSocket-Extensions: ${opts.extension}\r\n` : '') +
          '\r\n',
      );
      if (opts.afterHead) socket.write(opts.afterHead);
      if (rest.length) peer.recv.add(rest);
      const w = waiting.shift();
      if (w) w(peer);
      else queue.push(peer);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    next: () => {
      const p = queue.shift();
      if (p) return Promise.resolve(p);
      return new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Opens a raw client connection, sends an upgrade request, and resolves with the response head. */
export async function rawUpgrade(
  port: number,
  path = '/ws',
  extraHeaders: Record<string, string> = {},
  opts: { upgradeHeader?: boolean; halfOpen?: boolean } = {},
): Promise<{ socket: net.Socket; head: string; recv: Recorder; status: number }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.on('error', () => {});
  // Like a browser: when the server closes, close too (unless the test wants a half-open socket).
  if (!opts.halfOpen) socket.on('end', () => socket.end());
  let req = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`;
  if (opts.upgradeHeader !== false) req += 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  req += `Sec-WebSocket-Key: ${TEST_KEY}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const [k, v] of Object.entries(extraHeaders)) req += `${k}: ${v}\r\n`;
  socket.write(`${req}\r\n`);
  const recv = new Recorder(socket);
  // Wait for the end of the response head.
  const deadline = Date.now() + 5000;
  let end = recv.bytes.indexOf('\r\n\r\n');
  while (end === -1) {
    if (Date.now() > deadline) throw new Error('no response head');
    await new Promise((r) => setTimeout(r, 5));
    end = recv.bytes.indexOf('\r\n\r\n');
  }
  const all = recv.bytes;
  const head = all.subarray(0, end).toString('latin1');
  const after = all.subarray(end + 4);
  const body = new Recorder(new net.Socket());
  body.add(after);
  socket.removeAllListeners('data');
  socket.on('data', (c: Buffer) => body.add(c));
  return { socket, head, recv: body, status: Number(head.split(' ')[1]) };
}

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
