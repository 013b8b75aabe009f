// The one shape a broadcast has inside the backend, and the JSON the clients get for it.

/** A broadcast as it travels over the bus: seq is assigned once, by the bus, for the whole room. */
export interface BusMessage {
  room: string;
  seq: number;
  /** The node that accepted the publish. */
  origin: string;
  /** Publish time, ms since the epoch, stamped by the origin node. */
  t: number;
  data: unknown;
}

/**
 * What WebSocket, SSE and long-poll clients receive. `node` is the node that delivered it to this
 * client, `origin` the one that accepted the publish: drills use the pair to see cross-node fan-out.
 */
export interface ClientMessage extends BusMessage {
  type: 'message';
  node: string;
}

export function toClientMessage(msg: BusMessage, nodeId: string): ClientMessage {
  return {
    type: 'message',
    room: msg.room,
    seq: msg.seq,
    origin: msg.origin,
    node: nodeId,
    t: msg.t,
    data: msg.data,
  };
}

export const MAX_ROOM_LENGTH = 200;

/** Room names come from URLs and JSON bodies; keep them short and printable. */
export function isValidRoom(room: unknown): room is string {
  return (
    typeof room === 'string' && room.length > 0 && room.length <= MAX_ROOM_LENGTH && !/[\s\0]/.test(room)
  );
}
