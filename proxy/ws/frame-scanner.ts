/**
 * A passive, incremental scanner of RFC 6455 frame headers for one direction of a relayed
 * WebSocket stream.
 *
 * It reads frame headers as chunks pass by and skips payloads without copying or unmasking
 * them. From the headers alone it counts frames, messages (a fragmented message counts once, when
 * the last byte of its final frame has been scanned), pings and pongs; for a close frame it unmasks only the two status-code bytes.
 *
 * The scanner never changes the bytes: the relay forwards every chunk unchanged whatever the
 * scanner concludes. When the stream breaks the protocol (an unknown opcode, a fragmented
 * control frame, RSV bits without an extension, ...) the scanner sets `broken`, records why,
 * and ignores the rest of the stream, so a sidecar never breaks traffic the two ends accept.
 *
 * Hot path: `push()` allocates nothing. State lives in numeric fields, and the header bytes
 * of a frame that is split across chunks (or that ends a chunk shorter than 14 bytes) are gathered
 * in a 14-byte buffer owned by the scanner, made the first time it is needed.
 *
 * Two optional hooks, both null unless the relay sets them:
 * - `sizes` receives the payload size of every data message (known from its final frame's header);
 * - `sink` (a protocol decoder) receives the first `sink.prefix.length` payload bytes of each data
 *   message, unmasked into the sink's own buffer; the rest of the payload is skipped as usual.
 */

/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Why a stream stopped being parseable. */
export type ProtocolViolation =
  | 'reserved_opcode'
  | 'reserved_bits'
  | 'control_frame_fragmented'
  | 'control_frame_too_long'
  | 'unexpected_continuation'
  | 'expected_continuation'
  | 'length_too_large'
  | 'invalid_close_length';

/** Receives message sizes (a histogram without labels). */
export interface SizeObserver {
  observe(bytes: number): void;
}

/**
 * A protocol decoder's view of the data messages of one direction. The scanner unmasks the first
 * bytes of each message into `prefix` (never more than its length) and reports the message when
 * its last frame has been scanned.
 */
export interface MessageSink {
  readonly prefix: Buffer;
  /**
   * A data message ended. `have` bytes of `prefix` hold its start; `size` is its whole payload
   * length; `compressed` is true when its first frame had RSV1 set (permessage-deflate), in which
   * case `have` is 0: the scanner does not inflate.
   */
  onMessage(opcode: number, size: number, have: number, compressed: boolean): void;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const MAX_SAFE_HIGH = 0x1fffff; // 2^53 - 1 = high 21 bits of the upper 32-bit word

enum State {
  Header, // gathering the 2..14 header bytes
  Payload, // skipping payload bytes
  Broken, // stopped parsing; bytes pass through unseen
}

export class FrameScanner {
  /** Frames whose header has been read. */
  frames = 0;
  /** Data messages whose final frame has been scanned to its last byte (text or binary). */
  messages = 0;
  pings = 0;
  pongs = 0;
  /** Close frames seen; the first one's status code is in `closeCode`. */
  closes = 0;
  /** Status code of the first close frame: 1005 when it carried none, -1 before any close frame. */
  closeCode = -1;
  /** Set once the stream broke the protocol; the scanner then ignores the rest. */
  broken = false;
  violation: ProtocolViolation | null = null;

  /**
   * RSV1 is legal only when permessage-deflate was negotiated in the handshake. The relay
   * sets this from the 101 response's Sec-WebSocket-Extensions.
   */
  allowRsv1 = false;

  /**
   * While set, the scanner compares the payload of each pong of the same length with this
   * token (unmasking byte by byte as it goes, without copying) and sets `lastPongMatched`
   * when a whole pong matched. The heartbeat uses it to recognise answers to its own pings.
   */
  matchToken: Buffer | null = null;
  /** True right after a pong frame that carried `matchToken` has been completely scanned. */
  lastPongMatched = false;

  /** Observes the payload size of each data message; null when nobody asked. */
  sizes: SizeObserver | null = null;
  /** Gets the first bytes of each data message; null when no decoder claimed the connection. */
  sink: MessageSink | null = null;

  private state: State = State.Header;
  /** Where the slow path gathers header bytes; made the first time it runs (null until then). */
  private header: Buffer | null = null;
  private headerHave = 0;
  private headerNeed = 2;

  /** Payload bytes of the current frame still to skip (exact up to 2^53 - 1). */
  private remaining = 0;
  private opcode = 0;
  private masked = false;
  /** The masking key as one little-endian word (key byte k in bits 8k..8k+7); 0 when unmasked. */
  private maskWord = 0;
  /** A 32-bit view of the sink's prefix buffer for word-wise unmasking (made once per sink). */
  private words: Uint32Array | null = null;
  private wordsOf: Buffer | null = null;
  /** Payload offset reached in the current frame, for control-frame byte positions. */
  private payloadPos = 0;
  /** Inside a fragmented data message (a non-final data frame was seen). */
  private fragmented = false;
  private closeCodeHigh = 0;
  private pongMatching = false;
  private fin = false;
  // The data message in progress: its opcode, payload size so far, prefix bytes captured, RSV1.
  private msgOpcode = 0;
  private msgSize = 0;
  private msgHave = 0;
  private msgCompressed = false;
  /** The current frame is the final frame of a data message: it counts once it ends. */
  private finalData = false;

  /** True when the scanner sits between two frames. */
  get atBoundary(): boolean {
    return this.state === State.Header && this.headerHave === 0;
  }

  /**
   * Opcode of the frame being read (as soon as its first header byte is in) or, between frames,
   * of the last frame read.
   */
  get frameOpcode(): number {
    return this.state === State.Header && this.headerHave > 0 ? this.header![0] & 0x0f : this.opcode;
  }

  /** True while the current frame is a pong that may carry `matchToken` (so far every byte matched). */
  get pongCandidate(): boolean {
    if (this.state === State.Header) return this.headerHave > 0 && (this.header![0] & 0x0f) === Opcode.Pong;
    return this.opcode === Opcode.Pong && this.pongMatching;
  }

  /**
   * Forgets the partly read current frame, as if its bytes had not been pushed. The relay uses it
   * when it holds back a split pong to push those bytes again together with the next chunk.
   */
  rewindFrame(): void {
    if (this.state === State.Payload) this.frames--;
    if (this.state !== State.Broken) this.state = State.Header;
    this.headerHave = 0;
    this.headerNeed = 2;
    this.remaining = 0;
    this.payloadPos = 0;
    this.pongMatching = false;
  }

  /** Scans a whole chunk. */
  push(chunk: Uint8Array): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && this.state !== State.Broken) pos = this.step(chunk, pos, end);
  }

  /**
   * Scans from `pos` until the end of the current frame or `end`, whichever comes first, and
   * returns the offset reached. After it returns, `atBoundary` tells whether a frame ended
   * exactly there; the relay uses this to insert its own control frames between frames.
   */
  step(chunk: Uint8Array, pos: number, end: number): number {
    if (this.state === State.Header) {
      pos = this.readHeader(chunk, pos, end);
      if ((this.state as State) !== State.Payload) return pos; // header incomplete, broken, or empty frame done
    }
    if (this.state === State.Payload) {
      const avail = end - pos;
      const take = Math.min(avail, this.remaining);
      if (this.opcode >= Opcode.Close) {
        if (take > 0) this.inspectControlPayload(chunk, pos, take);
      } else if (this.sink !== null && take > 0) this.capture(chunk, pos, take);
      this.remaining -= take;
      this.payloadPos += take;
      pos += take;
      if (this.remaining === 0) this.endFrame();
      return pos;
    }
    return end; // broken: consume everything unseen
  }

  /** Gathers header bytes; on a complete header, validates it and enters Payload (or ends the frame). */
  private readHeader(chunk: Uint8Array, pos: number, end: number): number {
    let h: Uint8Array;
    let base: number;
    if (this.headerHave === 0 && end - pos >= 14) {
      // Fast path: the whole header is inside this chunk, read it in place.
      h = chunk;
      base = pos;
      this.headerNeed = headerLength(chunk[pos + 1]);
      pos += this.headerNeed;
    } else {
      // Slow path: gather the header across chunks into the scanner's own 14-byte buffer.
      this.header ??= Buffer.allocUnsafe(14);
      const header = this.header;
      while (pos < end && this.headerHave < this.headerNeed) {
        header[this.headerHave++] = chunk[pos++];
        if (this.headerHave === 2) this.headerNeed = headerLength(header[1]);
      }
      if (this.headerHave < this.headerNeed) return pos;
      h = header;
      base = 0;
    }
    this.headerHave = 0;
    this.headerNeed = 2;

    const b0 = h[base];
    const b1 = h[base + 1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    let off = base + 2;
    if (len === 126) {
      len = (h[off] << 8) | h[off + 1];
      off += 2;
    } else if (len === 127) {
      const hi = ((h[off] << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3]) >>> 0;
      const lo = ((h[off + 4] << 24) | (h[off + 5] << 16) | (h[off + 6] << 8) | h[off + 7]) >>> 0;
      if (hi > MAX_SAFE_HIGH) return this.fail('length_too_large', pos);
      len = hi * 0x100000000 + lo;
      off += 8;
    }
    this.masked = (b1 & 0x80) !== 0;
    this.maskWord = this.masked ? h[off] | (h[off + 1] << 8) | (h[off + 2] << 16) | (h[off + 3] << 24) : 0;

    if ((b0 & 0x30) !== 0 || ((b0 & 0x40) !== 0 && !this.allowRsv1)) return this.fail('reserved_bits', pos);
    this.frames++;
    if (opcode >= Opcode.Close) {
      if (opcode > Opcode.Pong) return this.fail('reserved_opcode', pos);
      if (!fin) return this.fail('control_frame_fragmented', pos);
      if (len > 125) return this.fail('control_frame_too_long', pos);
      if ((b0 & 0x40) !== 0) return this.fail('reserved_bits', pos);
      if (opcode === Opcode.Close && len === 1) return this.fail('invalid_close_length', pos);
    } else if (opcode === Opcode.Continuation) {
      if (!this.fragmented) return this.fail('unexpected_continuation', pos);
      this.msgSize += len;
      if (fin) {
        this.fragmented = false;
        this.finalData = true;
      }
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.fragmented) return this.fail('expected_continuation', pos);
      this.msgOpcode = opcode;
      this.msgSize = len;
      this.msgHave = 0;
      this.msgCompressed = (b0 & 0x40) !== 0;
      if (fin) this.finalData = true;
      else this.fragmented = true;
    } else {
      return this.fail('reserved_opcode', pos);
    }

    this.opcode = opcode;
    this.fin = fin;
    this.remaining = len;
    this.payloadPos = 0;
    this.lastPongMatched = false;
    if (opcode === Opcode.Pong) {
      const t = this.matchToken;
      this.pongMatching = t !== null && t.length === len;
    }
    if (len === 0) {
      this.state = State.Header;
      this.endFrame();
    } else {
      this.state = State.Payload;
    }
    return pos;
  }

  /** Looks at control-frame payload bytes in place: the close code, or a pong's token. */
  private inspectControlPayload(chunk: Uint8Array, pos: number, take: number): void {
    if (this.opcode === Opcode.Close) {
      // Only the first two payload bytes (the status code) are unmasked.
      for (let i = 0; i < take && this.payloadPos + i < 2; i++) {
        const p = this.payloadPos + i;
        const byte = chunk[pos + i] ^ this.maskByte(p);
        if (p === 0) this.closeCodeHigh = byte;
        else if (this.closes === 0) this.closeCode = (this.closeCodeHigh << 8) | byte;
      }
    } else if (this.opcode === Opcode.Pong && this.pongMatching) {
      const t = this.matchToken!;
      for (let i = 0; i < take; i++) {
        const p = this.payloadPos + i;
        const byte = chunk[pos + i] ^ this.maskByte(p);
        if (byte !== t[p]) {
          this.pongMatching = false;
          break;
        }
      }
    }
  }

  /**
   * Copies (unmasked) the bytes of a data frame that still fit in the sink's prefix buffer: byte
   * by byte up to a word boundary of the prefix, then four bytes per step with the key rotated to
   * the payload position, then the tail byte by byte. An unmasked frame has a zero key.
   */
  private capture(chunk: Uint8Array, pos: number, take: number): void {
    if (this.msgCompressed) return;
    const prefix = this.sink!.prefix;
    const n = Math.min(take, prefix.length - this.msgHave);
    if (n <= 0) return;
    const mask = this.maskWord;
    let out = this.msgHave;
    let p = this.payloadPos;
    const stop = out + n;
    while (out < stop && (out & 3) !== 0) prefix[out++] = chunk[pos++] ^ ((mask >>> ((p++ & 3) << 3)) & 0xff);
    if (stop - out >= 4) {
      const words = this.wordsOf === prefix ? this.words : this.wordView(prefix);
      if (words !== null) {
        const r = (p & 3) << 3;
        const key = r === 0 ? mask : (mask >>> r) | (mask << (32 - r));
        const from = out;
        for (; stop - out >= 4; out += 4, pos += 4)
          words[out >> 2] =
            (chunk[pos] | (chunk[pos + 1] << 8) | (chunk[pos + 2] << 16) | (chunk[pos + 3] << 24)) ^ key;
        p += out - from;
      }
    }
    while (out < stop) prefix[out++] = chunk[pos++] ^ ((mask >>> ((p++ & 3) << 3)) & 0xff);
    this.msgHave = out;
  }

  /** A 32-bit view of `prefix` when its memory is word-aligned on a little-endian host, else null. */
  private wordView(prefix: Buffer): Uint32Array | null {
    this.wordsOf = prefix;
    this.words =
      LITTLE_ENDIAN && (prefix.byteOffset & 3) === 0
        ? new Uint32Array(prefix.buffer, prefix.byteOffset, prefix.length >>> 2)
        : null;
    return this.words;
  }

  private maskByte(p: number): number {
    return (this.maskWord >>> ((p & 3) << 3)) & 0xff;
  }

  private endFrame(): void {
    this.state = State.Header;
    if (this.opcode < Opcode.Close) {
      // A message counts (and is sized) once the last byte of its final frame has been scanned.
      if (this.finalData) {
        this.finalData = false;
        this.messages++;
        if (this.sizes !== null) this.sizes.observe(this.msgSize);
      }
      if (this.fin && this.sink !== null)
        this.sink.onMessage(this.msgOpcode, this.msgSize, this.msgHave, this.msgCompressed);
      return;
    }
    switch (this.opcode) {
      case Opcode.Ping:
        this.pings++;
        break;
      case Opcode.Pong:
        if (this.pongMatching) {
          this.lastPongMatched = true;
          this.pongMatching = false;
        } else {
          this.pongs++;
        }
        break;
      case Opcode.Close:
        if (this.closes === 0 && this.payloadPos === 0) this.closeCode = 1005;
        this.closes++;
        break;
    }
  }

  private fail(why: ProtocolViolation, pos: number): number {
    this.state = State.Broken;
    this.broken = true;
    this.violation = why;
    return pos;
  }
}

/** Header length implied by the second header byte: 2, plus 2 or 8 length bytes, plus 4 mask bytes. */
function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
