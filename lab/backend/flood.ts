// Server-driven flood for the slow-consumer drill: send `size`-byte binary messages to one socket
// at `bytesPerSecond`. The backend must stay bounded itself, so nothing is added while the
// socket's bufferedAmount is over the limit, and the time spent paused is not made up later
// (no catch-up burst). bufferedAmount only sees user-space buffers; the kernel's send buffer
// fills first and is invisible here.
//
// Payload: random bytes (so permessage-deflate cannot shrink them away); when size >= 16 the
// first 8 bytes are a big-endian message counter and the next 8 a float64 Date.now() at send, so
// a drill can measure loss and queueing delay.

import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

export interface FloodOptions {
  bytesPerSecond: number;
  size: number;
  maxBufferedBytes: number;
  tickMs?: number;
}

export interface FloodCounters {
  messages: number;
  bytes: number;
  pausedTicks: number;
}

export const MAX_FLOOD_MESSAGE_BYTES = 4 * 1024 * 1024;

export function startFlood(ws: WebSocket, opts: FloodOptions, counters: FloodCounters): () => void {
  const { bytesPerSecond, size, maxBufferedBytes } = opts;
  const template = randomBytes(size);
  let counter = 0n;
  let credit = 0;
  let last = performance.now();

  const timer = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    // Credit accrues with elapsed time, capped at one second's worth so a stalled event loop
    // does not turn into a burst.
    credit = Math.min(credit + ((now - last) / 1000) * bytesPerSecond, Math.max(bytesPerSecond, size));
    last = now;
    if (ws.bufferedAmount > maxBufferedBytes) {
      credit = 0;
      counters.pausedTicks += 1;
      return;
    }
    while (credit >= size && ws.bufferedAmount <= maxBufferedBytes) {
      // A fresh buffer per message: the socket keeps a reference until the bytes are written.
      const buf = Buffer.allocUnsafe(size);
      template.copy(buf);
      if (size >= 16) {
        buf.writeBigUInt64BE(counter, 0);
        buf.writeDoubleBE(Date.now(), 8);
      }
      counter += 1n;
      ws.send(buf, { binary: true });
      credit -= size;
      counters.messages += 1;
      counters.bytes += size;
    }
  }, opts.tickMs ?? 20);

  return () => clearInterval(timer);
}
