// The broadcast bus: publish once, every node (this one included) gets the message back and fans
// it out to its local sockets. Two implementations: in-process (single node) and Redis pub/sub.

import type { BusMessage } from './message.js';
import { SocketlensError } from '../../proxy/errors.js';

export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Assigns the room's next seq and broadcasts; resolves with that seq. */
  publish(room: string, origin: string, data: unknown): Promise<number>;
  /** Whether a publish can go through right now (Redis: both clients connected and subscribed). */
  isUp(): boolean;
  close(): Promise<void>;
}

export type BusDeliver = (msg: BusMessage) => void;

export class BusError extends SocketlensError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'BusError';
  }
}

/** Single-node bus: seqs come from a local counter per room, delivery is synchronous. */
export function createMemoryBus(deliver: BusDeliver): Bus {
  const seqs = new Map<string, number>();
  let closed = false;
  return {
    kind: 'memory',
    async publish(room, origin, data) {
      if (closed) throw new BusError('SL_LAB_BUS_CLOSED', 'bus is closed');
      const seq = (seqs.get(room) ?? 0) + 1;
      seqs.set(room, seq);
      deliver({ room, seq, origin, t: Date.now(), data });
      return seq;
    },
    isUp: () => !closed,
    async close() {
      closed = true;
    },
  };
}
