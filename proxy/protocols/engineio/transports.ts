/**
 * engine.io as the relay meets it: requests under the engine.io path (default /socket.io/) with
 * EIO=4 in the query. A polling GET without sid is the handshake (its answer is the open packet);
 * a polling GET with sid is a long-poll wait (its answer carries server packets); a POST with sid
 * carries client packets; a WebSocket upgrade with sid is the upgrade of that session, without sid
 * a WebSocket-only session. EIO=3 (Socket.IO 2) is not decoded: its requests are relayed and
 * counted as plain HTTP (or long-poll under --longpoll-paths) and its WebSockets as plain ones.
 *
 * Polling bodies (EIO=4) are packets separated by the record separator 0x1E; a binary packet is
 * "b" and base64. The reader keeps the first bytes of each packet in a fixed buffer.
 */
import type { IncomingMessage } from 'node:http';
import type { SidecarContext } from '../../context.js';
import { Opcode } from '../../ws/frame-scanner.js';
import {
  directionOf,
  PREFIX_BYTES,
  PrefixSink,
  type ProtocolView,
  type WsDecoder,
  type WsEnd,
} from '../decoder.js';
import type { EngineSession, EngineSessions, SessionOrigin } from './session.js';

export interface EngineRequest {
  sid: string | null;
  /** polling, websocket, or '' when the query names none. */
  transport: string;
}

/** The engine.io view of a request URL, or null when it is not an EIO=4 engine.io request. */
export function engineioRequest(url: string, path: string): EngineRequest | null {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const base = path.endsWith('/') ? path.slice(0, -1) : path;
  if (pathname !== base && !pathname.startsWith(`${base}/`)) return null;
  if (q < 0) return null;
  const params = new URLSearchParams(url.slice(q + 1));
  if (params.get('EIO') !== '4') return null;
  return { sid: params.get('sid'), transport: params.get('transport') ?? '' };
}

const RECORD_SEPARATOR = 0x1e;
const B = 0x62; // "b": a base64 binary packet in a polling body

/** Splits a polling body into packets, keeping the first PREFIX_BYTES of each. */
export class PollingBody {
  private readonly prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  private have = 0;
  private size = 0;

  constructor(
    private readonly onPacket: (buf: Buffer, have: number, size: number, binary: boolean) => void,
  ) {}

  push(chunk: Uint8Array): void {
    const p = this.prefix;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === RECORD_SEPARATOR) {
        this.flush();
        continue;
      }
      if (this.have < p.length) p[this.have++] = b;
      this.size++;
    }
  }

  end(): void {
    if (this.size > 0) this.flush();
  }

  private flush(): void {
    this.onPacket(this.prefix, this.have, this.size, this.have > 0 && this.prefix[0] === B);
    this.have = 0;
    this.size = 0;
  }
}

/** What the HTTP path does with one engine.io polling request. */
export class EnginePollingRequest {
  /** The long-poll wait (GET with sid) counts as transport="longpoll"; the rest as plain HTTP. */
  readonly transport: 'longpoll' | 'http';
  private session: EngineSession | null;
  private status = 0;

  constructor(
    private readonly ctx: SidecarContext,
    private readonly sessions: EngineSessions,
    private readonly req: IncomingMessage,
    private readonly eio: EngineRequest,
    private readonly origin: SessionOrigin,
  ) {
    const get = req.method === 'GET';
    this.transport = get && eio.sid ? 'longpoll' : 'http';
    this.session = eio.sid ? sessions.adopt(eio.sid, 'polling', origin) : null;
    this.session?.pollStarted();
  }

  /**
   * Taps the client's body (a POST carries client packets). Called once the request to the
   * backend exists: a 'data' listener added earlier would start the flow before the relay's pipe.
   */
  request(): void {
    const s = this.session;
    if (this.req.method !== 'POST' || !s) return;
    const body = new PollingBody((buf, have, size, binary) =>
      s.packet(true, 'polling', buf, have, size, binary),
    );
    this.req.on('data', (chunk: Buffer) => {
      s.bytesIn += chunk.length;
      body.push(chunk);
    });
    this.req.once('end', () => body.end());
  }

  view(): ProtocolView | null {
    return this.session?.view() ?? null;
  }

  /** Taps the backend's answer: the open packet (handshake) or the server's packets (a poll). */
  response(res: IncomingMessage): void {
    this.status = res.statusCode ?? 0;
    const dir = directionOf(false);
    if (this.req.method !== 'GET' || this.status !== 200) {
      res.once('end', () => this.finished());
      return;
    }
    const enc = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (enc !== 'identity') {
      // engine.io compresses long polling answers over 1 KiB for clients that accept it: counted, not read.
      this.ctx.metrics.protocolCompressed.labels('engineio', dir).inc();
      res.on('data', (chunk: Buffer) => {
        if (this.session) this.session.bytesOut += chunk.length;
      });
      res.once('end', () => this.finished());
      return;
    }
    let bytes = 0;
    const body = new PollingBody((buf, have, size, binary) => {
      if (this.session === null) {
        // The handshake: its first packet must be the open packet that names the session.
        this.session = this.sessions.create(this.origin);
        this.session.bytesOut += bytes;
        bytes = 0;
      }
      this.session.packet(false, 'polling', buf, have, size, binary);
    });
    res.on('data', (chunk: Buffer) => {
      if (this.session) this.session.bytesOut += chunk.length;
      else bytes += chunk.length;
      body.push(chunk);
    });
    res.once('end', () => {
      body.end();
      this.finished();
    });
  }

  private finished(): void {
    // The handshake's session is open; it starts idling until its first poll.
    if (this.eio.sid === null) this.session?.pollEnded(this.status);
  }

  /** The client's request ended (for a poll: its answer is complete, or the client left). */
  closed(): void {
    if (this.eio.sid !== null) this.session?.pollEnded(this.status);
  }
}

/** The engine.io decoder of one WebSocket: its packets go to the session it belongs to. */
export class EngineWsDecoder implements WsDecoder {
  readonly protocol = 'engineio' as const;
  readonly c2s: PrefixSink;
  readonly s2c: PrefixSink;

  constructor(
    private readonly ctx: SidecarContext,
    private readonly session: EngineSession,
  ) {
    const onMessage = (
      fromClient: boolean,
      prefix: Buffer,
      opcode: number,
      size: number,
      have: number,
      compressed: boolean,
    ) => {
      if (compressed) {
        this.ctx.metrics.protocolCompressed.labels('engineio', directionOf(fromClient)).inc();
        return;
      }
      this.session.packet(fromClient, 'websocket', prefix, have, size, opcode === Opcode.Binary);
    };
    this.c2s = new PrefixSink(true, onMessage);
    this.s2c = new PrefixSink(false, onMessage);
    session.wsStarted();
  }

  tick(): void {}

  ended(end: WsEnd): boolean {
    return this.session.wsEnded(end.closeCode, end.initiator, end.bytesIn, end.bytesOut);
  }

  view(): ProtocolView {
    return this.session.view();
  }
}
