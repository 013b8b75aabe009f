/**
 * Builders for the few frames the sidecar writes itself: close frames (on shutdown and policy
 * decisions) and heartbeat pings. Frames toward the backend are masked, as a client's must be
 * (RFC 6455 section 5.3); frames toward the client are not.
 */
import { randomFillSync } from 'node:crypto';
import { Opcode } from './frame-scanner.js';

export function controlFrame(opcode: number, payload: Uint8Array, masked: boolean): Buffer {
  if (payload.length > 125) throw new RangeError('control frame payload exceeds 125 bytes');
  const headerLen = masked ? 6 : 2;
  const frame = Buffer.allocUnsafe(headerLen + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | payload.length;
  if (!masked) {
    frame.set(payload, 2);
    return frame;
  }
  randomFillSync(frame, 2, 4);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ frame[2 + (i & 3)];
  return frame;
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
