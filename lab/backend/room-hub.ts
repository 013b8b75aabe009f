// Per-node room state: a bounded history of recent broadcasts (for SSE Last-Event-ID, long-poll
// `since` and WebSocket `since` replay) and the local listeners a broadcast fans out to.

import { type BusMessage, type ClientMessage, toClientMessage } from './message.js';

/** A local subscriber; `wire` is the message serialised once for every listener. */
export type RoomListener = (msg: ClientMessage, wire: string) => void;

interface Entry {
  msg: ClientMessage;
  wire: string;
}

interface Room {
  history: Entry[];
  latestSeq: number;
  listeners: Set<RoomListener>;
}

export class RoomHub {
  readonly #nodeId: string;
  readonly #historySize: number;
  readonly #rooms = new Map<string, Room>();
  delivered = 0;

  constructor(nodeId: string, historySize: number) {
    this.#nodeId = nodeId;
    this.#historySize = historySize;
  }

  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (!room) {
      room = { history: [], latestSeq: 0, listeners: new Set() };
      this.#rooms.set(name, room);
    }
    return room;
  }

  /** Called by the bus for every broadcast this node receives, its own included. */
  deliver(busMsg: BusMessage): void {
    const room = this.#room(busMsg.room);
    const msg = toClientMessage(busMsg, this.#nodeId);
    const entry = { msg, wire: JSON.stringify(msg) };
    room.history.push(entry);
    // Trim in batches so the ring costs O(1) amortised instead of a shift() per message.
    if (room.history.length > this.#historySize * 2)
      room.history.splice(0, room.history.length - this.#historySize);
    if (msg.seq > room.latestSeq) room.latestSeq = msg.seq;
    this.delivered += 1;
    for (const listener of [...room.listeners]) listener(entry.msg, entry.wire);
  }

  /** Buffered messages of a room with seq > since, oldest first (at most historySize of them). */
  since(roomName: string, since: number): Entry[] {
    const room = this.#rooms.get(roomName);
    if (!room) return [];
    const start = Math.max(0, room.history.length - this.#historySize);
    const out: Entry[] = [];
    for (let i = start; i < room.history.length; i++) {
      const entry = room.history[i]!;
      if (entry.msg.seq > since) out.push(entry);
    }
    return out;
  }

  /** The highest seq this node has seen for the room (0 if none). */
  latestSeq(roomName: string): number {
    return this.#rooms.get(roomName)?.latestSeq ?? 0;
  }

  subscribe(roomName: string, listener: RoomListener): () => void {
    const room = this.#room(roomName);
    room.listeners.add(listener);
    return () => {
      room.listeners.delete(listener);
    };
  }
}
