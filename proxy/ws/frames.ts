/**
 * Encoding whole frames: the few the sidecar writes itself (close frames on shutdown and policy
 * decisions, heartbeat pings), the messages `socketlens doctor` sends, and the benchmark's
 * pre-built load. Frames a client sends are masked (RFC 6455 section 5.3); a server's are not.
 */
import { randomFillSync } from 'node:crypto';
import { Opcode } from './frame-scanner.js';

/** Header length of a frame with this payload length: 2, plus 2 or 8 length bytes, plus 4 if masked. */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  return 2 + (payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

/** One frame of any length, final unless `fin` is false; masked with a random key when `masked`. */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean, fin = true): Buffer {
  const len = payload.length;
  const head = frameHeaderLength(len, masked);
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  const mask = masked ? 0x80 : 0;
  if (len < 126) frame[1] = mask | len;
  else if (len < 65536) {
    frame[1] = mask | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = mask | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  if (!masked) {
    frame.set(payload, head);
    return frame;
  }
  const key = head - 4;
  randomFillSync(frame, key, 4);
  for (let i = 0; i < len; i++) frame[head + i] = payload[i] ^ frame[key + (i & 3)];
  return frame;
}

export function controlFrame(opcode: number, payload: Uint8Array, masked: boolean): Buffer {
  if (payload.length > 125) throw new RangeError('control frame payload exceeds 125 bytes');
  return encodeFrame(opcode, payload, masked);
}

export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return controlFrame(Opcode.Close, payload, masked);
}

export function pingFrame(payload: Uint8Array, masked: boolean): Buffer {
  return controlFrame(Opcode.Ping, payload, masked);
}
