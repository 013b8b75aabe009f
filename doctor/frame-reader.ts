/**
 * Reads the frames a server sends to doctor, payloads included. The sidecar's FrameScanner
 * skips payloads by design; doctor needs them (to answer pings with the same bytes, to compare
 * an echo, to read a close reason), and only ever reads a handful of small frames.
 */
import { DoctorError } from './errors.js';

export interface Frame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Larger frames are not something a probe should buffer. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every frame they complete. Throws on a frame doctor will not read. */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  private next(): Frame | null {
    const b = this.buf;
    if (b.length < 2) return null;
    const masked = (b[1] & 0x80) !== 0;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(MAX_FRAME_BYTES))
        throw new DoctorError('SL_DOCTOR_BAD_RESPONSE', `server sent a frame of ${big} bytes`);
      len = Number(big);
      off = 10;
    }
    if (len > MAX_FRAME_BYTES)
      throw new DoctorError('SL_DOCTOR_BAD_RESPONSE', `server sent a frame of ${len} bytes`);
    const maskOff = off;
    if (masked) off += 4;
    if (b.length < off + len) return null;
    const payload = Buffer.from(b.subarray(off, off + len));
    // RFC 6455 forbids masked server frames, but reading them costs nothing; the report notes it.
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskOff + (i & 3)];
    this.buf = b.subarray(off + len);
    return { fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, payload };
  }
}
