/**
 * One direction of a relayed WebSocket: reads chunks from `src`, scans their frame headers and
 * writes them unchanged to `dst`, with TCP back-pressure.
 *
 * The common path writes each chunk whole and allocates nothing. A slower, frame-by-frame path
 * runs only while the sidecar has something of its own to do in this direction:
 * - insert a control frame (heartbeat ping, close) — only ever between two frames;
 * - drop the pongs that answer the sidecar's own pings (recognised by their payload);
 * - after the sidecar sent its close frame, drop what follows (the stream is sealed);
 * - while a fault (proxy/faults) is active: drop control frames whole (`dropOpcodes`), or hand
 *   the outgoing bytes to a shaper that delays, throttles, holds or truncates them.
 * With no fault active the hooks cost one field test per chunk and allocate nothing.
 *
 * What the pipe counts is what it relayed: bytes and complete messages written to dst. The
 * sidecar's own frames, the pongs it takes out and whatever is dropped after the seal are not.
 */
import type { Socket } from 'node:net';
import type { BufferBudget } from '../connections/buffer-budget.js';
import { FrameScanner } from './frame-scanner.js';

/**
 * Reading without the stream machinery. By default every read allocates a 64 KiB native buffer,
 * shrinks it, wraps it in a Buffer and pushes it through Readable into a 'data' event. Node's
 * `onread` mode instead reads into one caller-owned buffer and calls a function with the byte
 * count. Every relayed socket here reads into the same arena: reads run one at a time on this
 * thread, and each read's bytes are copied out (into a pooled buffer) before the callback
 * returns, so no write ever holds a reference to the arena.
 *
 * The relay's sockets are created by the HTTP server and the upgrade request, which offer no
 * `onread` option, so the mode is switched on for a live socket with the same fields the
 * constructor sets. When those fields are not there (another Node version) or the socket is not
 * a plain TCP socket, the pipe listens for 'data' as before.
 */
const ARENA_SIZE = 64 * 1024;
let arena: Buffer | null = null;

interface OnreadFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
let onreadFields: OnreadFields | null | undefined;

function findOnreadFields(sock: Socket): OnreadFields | null {
  if (onreadFields !== undefined) return onreadFields;
  const own = Object.getOwnPropertySymbols(sock);
  const by = (d: string) => own.find((s) => s.description === d);
  const buffer = by('kBuffer');
  const callback = by('kBufferCb');
  const generator = by('kBufferGen');
  onreadFields = buffer && callback && generator ? { buffer, callback, generator } : null;
  return onreadFields;
}

interface ReadHandle {
  reading: boolean;
  useUserBuffer?: (buf: Uint8Array) => void;
}

/**
 * Switches `sock` to arena reads: `onRead(n, arena)` gets each read's byte count and must copy
 * the bytes out before it returns. False when it can't be done safely.
 */
function readIntoArena(sock: Socket, onRead: (n: number, arena: Buffer) => void): boolean {
  const handle = (sock as unknown as { _handle?: ReadHandle | null })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  if ('encrypted' in sock || sock.readableLength > 0 || sock.destroyed) return false;
  const f = findOnreadFields(sock);
  if (f === null) return false;
  arena ??= Buffer.allocUnsafeSlow(ARENA_SIZE);
  const fields = sock as unknown as Record<symbol, unknown>;
  fields[f.buffer] = arena;
  fields[f.generator] = null;
  fields[f.callback] = onRead;
  handle.useUserBuffer(arena);
  return true;
}
const EMPTY = Buffer.alloc(0);

/**
 * What the pipe needs of the connection it belongs to. The owner also listens for dst's 'drain'
 * and calls the pipe's onDrain() (see WsConnection: one listener for every connection).
 */
export interface PipeOwner {
  /** Called after every chunk with what the scanner saw in it. */
  onChunk(
    pipe: Pipe,
    bytes: number,
    messages: number,
    pings: number,
    pongs: number,
    closeSeen: boolean,
  ): void;
  /** A pong answering the sidecar's ping was taken out of the stream. */
  onOwnPong(pipe: Pipe): void;
}

/** Takes over the writes toward dst while a fault shapes this direction (proxy/faults). */
export interface PipeShaper {
  push(buf: Buffer): void;
}

export class Pipe {
  readonly scanner = new FrameScanner();
  /** Bytes read from src. */
  bytes = 0;
  /** Bytes read from src that were not relayed: the sidecar's own pongs, what came after the seal. */
  droppedBytes = 0;
  /** Messages scanned that were not relayed (they came after the seal). */
  droppedMessages = 0;
  /** When set, the pipe pauses src once this many bytes are queued toward dst (instead of at the socket's high-water mark). */
  queueLimit = 0;
  /** Set when the owner should also pause (a global bound was hit). */
  externalPause = false;
  /** After the sidecar's own close frame went out, bytes from src are scanned but not written. */
  sealed = false;
  /** The global bound on bytes queued toward clients; set on client-bound pipes only. */
  budget: BufferBudget | null = null;
  /** Fault hook: one bit per opcode (1 << opcode) of control frames dropped whole; 0 = none. */
  dropOpcodes = 0;
  /** Frames dropped because of `dropOpcodes`. */
  dropped = 0;
  /** Fault hook: when set, every write toward dst goes through it. */
  shaper: PipeShaper | null = null;
  /** A fault holds src paused: drains and releases must not resume it. */
  private held = false;

  private pending: Buffer[] | null = null;
  private pendingWritten: Array<(() => void) | undefined> | null = null;
  private sealAfterPending = false;
  private stash: Buffer | null = null;
  private waitingDrain = false;
  private queued = 0;
  /** The write callback watchFlush uses; made the first time a pause needs it. */
  private onFlushed: (() => void) | null = null;

  constructor(
    readonly src: Socket,
    readonly dst: Socket,
    readonly fromClient: boolean,
    private readonly owner: PipeOwner,
  ) {
    if (!readIntoArena(src, this.onRead)) this.listenForData();
    src.resume();
  }

  /**
   * An arena read (see readIntoArena): its bytes are copied out, then relayed. The socket calls
   * it directly, so it is the pipe's own function, not one more closure around relay().
   */
  private readonly onRead = (n: number, buf: Buffer): void => {
    const chunk = Buffer.allocUnsafe(n);
    buf.copy(chunk, 0, 0, n);
    this.relay(chunk);
  };

  /** Reads through the stream machinery when arena reads can't be used (TLS, another Node). */
  private listenForData(): void {
    this.src.on('data', (chunk: Buffer) => this.relay(chunk));
  }

  /** Bytes relayed from src to dst (frame headers included). */
  get relayedBytes(): number {
    return this.bytes - this.droppedBytes;
  }

  /** Complete data messages relayed from src to dst (counted when their last byte was written). */
  get relayedMessages(): number {
    return this.scanner.messages - this.droppedMessages;
  }

  /** Feeds bytes that arrived before the pipe existed (the upgrade's `head`). */
  feed(chunk: Buffer): void {
    if (chunk.length > 0) this.relay(chunk);
  }

  /**
   * Sends `frame` to dst at the next frame boundary of this direction (at once if the stream is
   * between frames). With `seal`, nothing from src is forwarded after it. Returns false when the
   * frame can't be placed safely: the stream is already sealed or no longer parseable.
   * `written` runs once the frame has been flushed to dst's kernel buffer, i.e. is on the wire.
   */
  inject(frame: Buffer, seal = false, written?: () => void): boolean {
    if (this.sealed || this.sealAfterPending || this.scanner.broken || this.dst.destroyed) return false;
    if (this.pending === null && this.stash === null && this.scanner.atBoundary) {
      this.write(frame, written);
      if (seal) this.sealed = true;
      return true;
    }
    if (this.pending === null) {
      this.pending = [];
      this.pendingWritten = [];
    }
    this.pending.push(frame);
    this.pendingWritten!.push(written);
    if (seal) this.sealAfterPending = true;
    // A paused source would never reach the boundary; let it flow until the frame ends.
    if (this.waitingDrain) this.src.resume();
    return true;
  }

  /** One chunk read from src: scanned, written to dst (or filtered), and reported to the owner. */
  private relay(chunk: Buffer): void {
    const s = this.scanner;
    const m0 = s.messages - this.droppedMessages;
    const b0 = this.bytes - this.droppedBytes;
    const p0 = s.pings;
    const q0 = s.pongs;
    const c0 = s.closes;
    const n = chunk.length;
    this.bytes += n;
    if (this.sealed) {
      this.dropSealed(chunk);
    } else if (
      this.pending === null &&
      this.stash === null &&
      s.matchToken === null &&
      this.dropOpcodes === 0
    ) {
      if (!s.broken) s.push(chunk);
      this.write(chunk);
    } else {
      this.filtered(chunk);
    }
    this.owner.onChunk(
      this,
      this.bytes - this.droppedBytes - b0,
      s.messages - this.droppedMessages - m0,
      s.pings - p0,
      s.pongs - q0,
      s.closes !== c0,
    );
  }

  /** After the seal: scanned (to see the answering close frame) but neither written nor counted. */
  private dropSealed(chunk: Buffer): void {
    const s = this.scanner;
    this.droppedBytes += chunk.length;
    if (s.broken) return;
    const m = s.messages;
    s.push(chunk);
    this.droppedMessages += s.messages - m;
  }

  /** dst drained: its 'drain' event (relayed by the owner), or the flush watchFlush asked for. */
  onDrain(): void {
    this.trackQueued();
    // A pipe whose own queue has drained resumes even under the global bound: it holds none of
    // the excess, and pausing it would stall a healthy reader for as long as others stay slow.
    if (!this.waitingDrain || this.held) return;
    if (!this.externalPause || this.dst.writableLength === 0) {
      this.waitingDrain = false;
      this.src.resume();
    } else if (!this.dst.writableNeedDrain) {
      this.watchFlush();
    }
  }

  /**
   * A pause that did not come from dst's high-water mark (the global bound, a queue limit below
   * it) gets no 'drain' event: ask dst to call back once what is queued now has been flushed.
   */
  private watchFlush(): void {
    if (this.dst.destroyed) return;
    this.onFlushed ??= () => this.onDrain();
    this.dst.write(EMPTY, this.onFlushed);
  }

  /** Resumes src after an external pause, unless dst still needs to drain. */
  release(): void {
    this.externalPause = false;
    if (this.waitingDrain && this.dst.writableLength === 0 && !this.held) {
      this.waitingDrain = false;
      this.src.resume();
    }
  }

  /** Pauses src (a fault holds it) or lets it flow again unless dst still needs to drain. */
  holdSource(on: boolean): void {
    if (on === this.held) return;
    this.held = on;
    if (on) this.src.pause();
    else if (!this.waitingDrain && !this.externalPause) this.src.resume();
  }

  private write(buf: Buffer, flushed?: () => void): void {
    if (this.shaper !== null) {
      this.shaper.push(buf);
      flushed?.();
    } else {
      this.writeOut(buf, flushed);
    }
  }

  /** Writes to dst with back-pressure (the shaper of a fault calls this once it releases bytes). */
  writeOut(buf: Buffer, flushed?: () => void): void {
    if (this.dst.destroyed) return;
    const ok = flushed === undefined ? this.dst.write(buf) : this.dst.write(buf, flushed);
    this.trackQueued();
    const over = this.queueLimit > 0 ? this.dst.writableLength > this.queueLimit : !ok;
    if ((over || this.externalPause) && !this.waitingDrain && this.pending === null) {
      this.waitingDrain = true;
      this.src.pause();
      if (ok) this.watchFlush();
    }
  }

  /** The connection ended: what this pipe still had counted leaves the global total. */
  leaveBudget(): void {
    if (this.budget === null) return;
    this.budget.leave(this, this.queued);
    this.queued = 0;
    this.budget = null;
  }

  private trackQueued(): void {
    if (this.budget === null) return;
    const q = this.dst.writableLength;
    if (q !== this.queued) this.budget.change(this, q - this.queued);
    this.queued = q;
  }

  /** Frame-by-frame relay: inserts pending frames at boundaries and drops the sidecar's own pongs. */
  private filtered(input: Buffer): void {
    let chunk = input;
    if (this.stash !== null) {
      chunk = Buffer.concat([this.stash, input]);
      this.stash = null;
    }
    const s = this.scanner;
    const end = chunk.length;
    let pos = 0;
    let from = 0;
    while (pos < end && !s.broken) {
      const frameStart = pos;
      const startedAtBoundary = s.atBoundary;
      pos = s.step(chunk, pos, end);
      if (s.atBoundary) {
        if (startedAtBoundary && (s.lastPongMatched || (this.dropOpcodes & (1 << s.frameOpcode)) !== 0)) {
          if (frameStart > from) this.write(chunk.subarray(from, frameStart));
          this.droppedBytes += pos - frameStart;
          from = pos;
          if (s.lastPongMatched) {
            s.lastPongMatched = false;
            this.owner.onOwnPong(this);
          } else {
            this.dropped++;
          }
        }
        if (this.pending !== null) {
          if (pos > from) this.write(chunk.subarray(from, pos));
          from = pos;
          this.flushPending();
          if (this.sealed) break;
        }
      } else if (
        pos === end &&
        startedAtBoundary &&
        ((s.matchToken !== null && s.pongCandidate) || (this.dropOpcodes & (1 << s.frameOpcode)) !== 0)
      ) {
        // A frame that may have to be dropped (a pong answering our ping, or a control frame a
        // fault drops) is split across chunks: hold its bytes back and scan them again with the
        // next chunk, so it can still be dropped whole. Control frames are at most 131 bytes.
        if (frameStart > from) this.write(chunk.subarray(from, frameStart));
        this.stash = Buffer.from(chunk.subarray(frameStart, end));
        s.rewindFrame();
        return;
      }
    }
    if (this.sealed) {
      if (pos < end) this.dropSealed(chunk.subarray(pos));
      return;
    }
    if (from < end) this.write(from === 0 ? chunk : chunk.subarray(from));
  }

  private flushPending(): void {
    const frames = this.pending!;
    const written = this.pendingWritten!;
    this.pending = null;
    this.pendingWritten = null;
    for (let i = 0; i < frames.length; i++) this.write(frames[i], written[i]);
    if (this.sealAfterPending) {
      this.sealAfterPending = false;
      this.sealed = true;
    }
  }
}
