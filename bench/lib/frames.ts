/** RFC 6455 frames built once, up front, so the load generator does no per-message work. */
import { randomBytes } from 'node:crypto';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { closeFrame as encodeClose, encodeFrame, frameHeaderLength } from '../../proxy/ws/frames.js';

/** Size on the wire of the unmasked frame the server sends back for this payload. */
export function serverFrameSize(payloadLen: number): number {
  return frameHeaderLength(payloadLen, false) + payloadLen;
}

/**
 * A complete binary frame. Client frames must be masked: the payload is random and masked with
 * a random key, so receivers do the same unmasking work as with real traffic.
 */
export function buildFrame(payloadLen: number, opts: { masked: boolean; opcode?: number }): Buffer {
  return encodeFrame(opts.opcode ?? Opcode.Binary, randomBytes(payloadLen), opts.masked);
}

/** A complete text frame carrying `text` (a protocol message: Socket.IO, graphql-ws). */
export function textFrame(text: string, masked: boolean): Buffer {
  return encodeFrame(Opcode.Text, Buffer.from(text, 'utf8'), masked);
}

/** `count` copies of one frame back to back, so a window of frames goes out in one write. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** A masked close frame with status 1000. */
export function closeFrame(): Buffer {
  return encodeClose(1000, '', true);
}
