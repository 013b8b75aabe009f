/** RFC 6455 frames built once, up front, so the load generator does no per-message work. */
import { randomBytes } from 'node:crypto';

/** Header length of a frame with this payload length (2, +2 or +8 length bytes, +4 if masked). */
export function headerLength(payloadLen: number, masked: boolean): number {
  const ext = payloadLen < 126 ? 0 : payloadLen < 65536 ? 2 : 8;
  return 2 + ext + (masked ? 4 : 0);
}

/** Size on the wire of the unmasked frame the server sends back for this payload. */
export function serverFrameSize(payloadLen: number): number {
  return headerLength(payloadLen, false) + payloadLen;
}

/**
 * A complete binary frame. Client frames must be masked: the payload is random and masked with
 * a random key, so receivers do the same unmasking work as with real traffic.
 */
export function buildFrame(payloadLen: number, opts: { masked: boolean; opcode?: number }): Buffer {
  const { masked, opcode = 0x2 } = opts;
  const hlen = headerLength(payloadLen, masked);
  const frame = Buffer.allocUnsafe(hlen + payloadLen);
  frame[0] = 0x80 | opcode;
  let off = 2;
  if (payloadLen < 126) {
    frame[1] = payloadLen;
  } else if (payloadLen < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLen, 2);
    off = 4;
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(payloadLen / 2 ** 32), 2);
    frame.writeUInt32BE(payloadLen >>> 0, 6);
    off = 10;
  }
  const payload = randomBytes(payloadLen);
  if (masked) {
    frame[1] |= 0x80;
    const key = randomBytes(4);
    key.copy(frame, off);
    off += 4;
    for (let i = 0; i < payloadLen; i++) frame[off + i] = payload[i] ^ key[i & 3];
  } else {
    payload.copy(frame, off);
  }
  return frame;
}

/** `count` copies of one frame back to back, so a window of frames goes out in one write. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** A masked close frame with status 1000. */
export function closeFrame(): Buffer {
  const f = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
  const key = randomBytes(4);
  key.copy(f, 2);
  f[6] ^= key[0];
  f[7] ^= key[1];
  return f;
}
