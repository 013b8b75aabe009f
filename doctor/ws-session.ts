/**
 * A minimal WebSocket client session over a socket whose 101 answer was already read: it
 * sends masked text frames and pings, answers the server's pings, and records exactly how the
 * connection ended — a close frame (with its code), a TCP FIN, or a reset (RST) — and when.
 */
import type { Socket } from 'node:net';
import { constants, inflateRawSync } from 'node:zlib';
import { Opcode } from '../proxy/ws/frame-scanner.js';
import { closeFrame, controlFrame, encodeFrame, pingFrame } from '../proxy/ws/frames.js';
import { FrameReader } from './frame-reader.js';

export type EndKind = 'close-frame' | 'fin' | 'rst' | 'error' | 'local';

export interface EndInfo {
  readonly how: EndKind;
  /** performance.now() when the end was first seen. */
  readonly at: number;
  /** Close code from the server's close frame (1005 when it carried none); null otherwise. */
  readonly code: number | null;
  readonly reason: string;
  /** Socket error message, for how === 'error'. */
  readonly error: string | null;
}

export interface Message {
  readonly at: number;
  readonly binary: boolean;
  readonly compressed: boolean;
  /** Text of the message, when it could be read (text frame, inflated if compressed). */
  readonly text: string | null;
}

export class WsSession {
  /** Server pings answered so far (they are traffic too: they reset idle timers). */
  serverPings = 0;
  /** Set when the server broke the protocol in a way doctor noticed. */
  protocolError: string | null = null;
  onMessage: ((m: Message) => void) | null = null;
  onPong: ((payload: Buffer, at: number) => void) | null = null;
  readonly ended: Promise<EndInfo>;

  private readonly reader = new FrameReader();
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private fragmentCompressed = false;
  private end: EndInfo | null = null;
  /** We started the closing handshake, so the server's close frame is its answer. */
  private closeSent = false;
  private resolveEnd!: (info: EndInfo) => void;

  constructor(
    private readonly socket: Socket,
    rest: Buffer,
    /** permessage-deflate was negotiated: RSV1 marks a compressed message. */
    private readonly deflate: boolean,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnd = resolve;
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.finish({ how: 'fin', code: null, reason: '', error: null });
      // We opened the socket half-open capable; answer the FIN and let go.
      socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const rst = err.code === 'ECONNRESET';
      this.finish({ how: rst ? 'rst' : 'error', code: null, reason: '', error: rst ? null : err.message });
    });
    socket.on('close', () => this.finish({ how: 'local', code: null, reason: '', error: null }));
    if (rest.length > 0) this.onData(rest);
    socket.resume();
  }

  get isOpen(): boolean {
    return this.end === null;
  }

  sendText(text: string): void {
    if (this.isOpen) this.socket.write(encodeFrame(Opcode.Text, Buffer.from(text, 'utf8'), true));
  }

  ping(payload: Buffer): void {
    if (this.isOpen) this.socket.write(pingFrame(payload, true));
  }

  /** Closes politely (close frame 1000), waiting up to `graceMs` for the server's answer. */
  async close(graceMs: number): Promise<void> {
    if (this.isOpen) {
      this.closeSent = true;
      this.socket.write(closeFrame(1000, 'socketlens doctor done', true));
      const timer = setTimeout(() => this.socket.destroy(), graceMs);
      await this.ended;
      clearTimeout(timer);
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(info: Omit<EndInfo, 'at'>): void {
    if (this.end) return;
    this.end = { ...info, at: performance.now() };
    this.resolveEnd(this.end);
  }

  private onData(chunk: Buffer): void {
    let frames: ReturnType<FrameReader['push']>;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.protocolError = (err as Error).message;
      this.socket.destroy();
      return;
    }
    const at = performance.now();
    for (const f of frames) this.onFrame(f, at);
  }

  private onFrame(f: { fin: boolean; rsv1: boolean; opcode: number; payload: Buffer }, at: number): void {
    switch (f.opcode) {
      case Opcode.Ping:
        this.serverPings++;
        if (this.isOpen) this.socket.write(controlFrame(Opcode.Pong, f.payload, true));
        return;
      case Opcode.Pong:
        this.onPong?.(f.payload, at);
        return;
      case Opcode.Close: {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        const reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
        this.finish({ how: 'close-frame', code, reason, error: null });
        // Answer the close handshake unless we started it, then let the server close TCP.
        if (!this.closeSent && !this.socket.destroyed) {
          this.closeSent = true;
          this.socket.write(closeFrame(code === 1005 ? 1000 : code, '', true));
          this.socket.end();
        }
        return;
      }
      case Opcode.Text:
      case Opcode.Binary:
        this.fragments = [f.payload];
        this.fragmentOpcode = f.opcode;
        this.fragmentCompressed = f.rsv1;
        break;
      case Opcode.Continuation:
        this.fragments.push(f.payload);
        break;
      default:
        this.protocolError = `server sent reserved opcode ${f.opcode}`;
        return;
    }
    if (!f.fin) return;
    const data = Buffer.concat(this.fragments);
    this.fragments = [];
    const binary = this.fragmentOpcode === Opcode.Binary;
    const compressed = this.fragmentCompressed && this.deflate;
    this.onMessage?.({ at, binary, compressed, text: binary ? null : this.decode(data, compressed) });
  }

  private decode(data: Buffer, compressed: boolean): string | null {
    if (!compressed) return data.toString('utf8');
    try {
      // permessage-deflate strips the final empty block's tail; put it back (RFC 7692 7.2.2).
      // Only the first compressed message inflates alone; later ones may use the shared window.
      // The message ends on a sync flush, not a final block: tell zlib not to expect one.
      return inflateRawSync(Buffer.concat([data, Buffer.from([0x00, 0x00, 0xff, 0xff])]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }).toString('utf8');
    } catch {
      return null;
    }
  }
}
