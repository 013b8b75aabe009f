/**
 * Opens one connection to the target the way a client does, timing each layer: DNS lookup
 * (every address), TCP connect (addresses in order until one answers), and for wss/https a TLS
 * handshake with SNI. Verification is left off on purpose so a bad certificate can be
 * described; whether to go on is the caller's decision (--insecure).
 */
import { lookup } from 'node:dns/promises';
import net, { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { DoctorError, describeError, withTimeout } from './errors.js';
import type { Target } from './target.js';
import { describeTls, type TlsInfo } from './tls-info.js';

export interface Connection {
  readonly socket: Socket | TLSSocket;
  /** Every address the name resolved to, in resolver order. */
  readonly addresses: readonly string[];
  /** The address that accepted the connection. */
  readonly address: string;
  readonly dnsMs: number;
  readonly connectMs: number;
  /** 0 for plain connections. */
  readonly tlsMs: number;
  readonly tls: TlsInfo | null;
}

export interface ConnectOptions {
  readonly timeoutMs: number;
}

async function resolve(target: Target, timeoutMs: number): Promise<string[]> {
  if (net.isIP(target.hostname)) return [target.hostname];
  try {
    const found = await withTimeout(
      lookup(target.hostname, { all: true, verbatim: true }),
      timeoutMs,
      'DNS lookup',
    );
    return found.map((a) => a.address);
  } catch (err) {
    // A slow resolver is a DNS problem too: keep the layer in the code, the detail in the text.
    const why =
      err instanceof DoctorError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
    throw new DoctorError('SL_DOCTOR_DNS', `cannot resolve ${target.hostname}: ${why}`, { cause: err });
  }
}

function connectTcp(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    // allowHalfOpen: a FIN from the far end must be seen as such ('end'), not answered for us,
    // so the idle probe can tell a FIN from a reset.
    const socket = net.connect({ host: address, port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new DoctorError(
          'SL_DOCTOR_TIMEOUT',
          `TCP connect to ${address}:${port}: no answer within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolvePromise(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new DoctorError('SL_DOCTOR_CONNECT', `TCP connect to ${address}:${port}: ${describeError(err)}`, {
          cause: err,
        }),
      );
    });
  });
}

function handshakeTls(socket: Socket, target: Target, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolvePromise, reject) => {
    const secure = tls.connect({
      socket,
      // SNI must be a name, never an IP literal (RFC 6066 section 3).
      servername: net.isIP(target.hostname) ? undefined : target.hostname,
      rejectUnauthorized: false,
      // WebSocket upgrades need HTTP/1.1; offering only it keeps an h2-first edge honest.
      ALPNProtocols: ['http/1.1'],
      allowHalfOpen: true,
    } as tls.ConnectionOptions);
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new DoctorError('SL_DOCTOR_TLS', `TLS handshake: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      secure.on('error', () => {}); // see openConnection
      resolvePromise(secure);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new DoctorError('SL_DOCTOR_TLS', `TLS handshake: ${describeError(err)}`, { cause: err }));
    });
  });
}

export async function openConnection(target: Target, opts: ConnectOptions): Promise<Connection> {
  const t0 = performance.now();
  const addresses = await resolve(target, opts.timeoutMs);
  const t1 = performance.now();
  let socket: Socket | undefined;
  let address = '';
  let lastError: unknown;
  for (const candidate of addresses) {
    try {
      socket = await connectTcp(candidate, target.port, opts.timeoutMs);
      address = candidate;
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!socket) throw lastError;
  socket.setNoDelay(true);
  // Every user of the connection listens for errors itself; this one only keeps an error in a
  // gap between two users (or after the last) from crashing the process.
  socket.on('error', () => {});
  const t2 = performance.now();
  if (!target.secure) {
    return { socket, addresses, address, dnsMs: t1 - t0, connectMs: t2 - t1, tlsMs: 0, tls: null };
  }
  const secure = await handshakeTls(socket, target, opts.timeoutMs);
  const t3 = performance.now();
  return {
    socket: secure,
    addresses,
    address,
    dnsMs: t1 - t0,
    connectMs: t2 - t1,
    tlsMs: t3 - t2,
    tls: describeTls(secure, target.hostname),
  };
}
