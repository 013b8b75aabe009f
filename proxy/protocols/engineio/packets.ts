/**
 * Reading engine.io v4 packets and the Socket.IO v5 packets inside them, from the first bytes
 * of each packet only (the decoder never sees more than its prefix buffer).
 *
 * engine.io: one ASCII digit for the type (0 open, 1 close, 2 ping, 3 pong, 4 message,
 * 5 upgrade, 6 noop), then the data. "2probe"/"3probe" are the upgrade probe, not heartbeats.
 * Socket.IO: a digit for the type (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR,
 * 5 BINARY_EVENT, 6 BINARY_ACK), for binary types the attachment count and "-", then an optional
 * namespace ending in ",", an optional ack id, and the JSON payload: for events an array whose
 * first element is the event name.
 */

export const EngineType = {
  Open: 0x30,
  Close: 0x31,
  Ping: 0x32,
  Pong: 0x33,
  Message: 0x34,
  Upgrade: 0x35,
  Noop: 0x36,
} as const;

/** The bytes of "probe" after the type digit. */
export function isProbe(buf: Uint8Array, have: number, size: number): boolean {
  return (
    size === 6 &&
    have === 6 &&
    buf[1] === 0x70 &&
    buf[2] === 0x72 &&
    buf[3] === 0x6f &&
    buf[4] === 0x62 &&
    buf[5] === 0x65
  );
}

export interface OpenPacket {
  sid: string;
  pingInterval: number;
  pingTimeout: number;
  upgrades: string[];
}

/** The open packet's JSON (after the "0"), or null when it is not one. */
export function parseOpen(buf: Buffer, have: number, size: number): OpenPacket | null {
  if (have !== size || have < 2) return null; // an open packet is short; a cut one is not parsed
  try {
    const o = JSON.parse(buf.toString('utf8', 1, have)) as Record<string, unknown>;
    if (typeof o.sid !== 'string' || o.sid.length === 0 || o.sid.length > 64) return null;
    return {
      sid: o.sid,
      pingInterval: typeof o.pingInterval === 'number' ? o.pingInterval : 25000,
      pingTimeout: typeof o.pingTimeout === 'number' ? o.pingTimeout : 20000,
      upgrades: Array.isArray(o.upgrades) ? o.upgrades.filter((u): u is string => typeof u === 'string') : [],
    };
  } catch {
    return null;
  }
}

export const SocketioType = {
  Connect: 0,
  Disconnect: 1,
  Event: 2,
  Ack: 3,
  ConnectError: 4,
  BinaryEvent: 5,
  BinaryAck: 6,
} as const;

export interface SocketioPacket {
  type: number;
  namespace: string;
  /** Event name for EVENT and BINARY_EVENT; '' otherwise; null when the name did not fit the prefix. */
  event: string | null;
  /** Binary attachments that follow as separate engine.io messages. */
  attachments: number;
}

/**
 * Parses a Socket.IO packet from `buf[from..have)`; `complete` says whether that is the whole
 * packet. Returns null when the bytes are not a Socket.IO packet.
 */
export function parseSocketio(
  buf: Buffer,
  from: number,
  have: number,
  complete: boolean,
): SocketioPacket | null {
  let i = from;
  if (i >= have) return null;
  const type = buf[i++] - 0x30;
  if (type < 0 || type > 6) return null;
  let attachments = 0;
  if (type === SocketioType.BinaryEvent || type === SocketioType.BinaryAck) {
    const start = i;
    while (i < have && buf[i] >= 0x30 && buf[i] <= 0x39) attachments = attachments * 10 + buf[i++] - 0x30;
    if (i === start || i >= have || buf[i] !== 0x2d) return null;
    i++;
  }
  let namespace = '/';
  if (i < have && buf[i] === 0x2f) {
    const start = i;
    while (i < have && buf[i] !== 0x2c) i++;
    if (i >= have) {
      // A namespace with no payload after it ends at the packet's end.
      if (!complete) return null;
      namespace = buf.toString('utf8', start, i);
    } else {
      namespace = buf.toString('utf8', start, i);
      i++; // the comma
    }
  }
  while (i < have && buf[i] >= 0x30 && buf[i] <= 0x39) i++; // ack id
  let event: string | null = '';
  if (type === SocketioType.Event || type === SocketioType.BinaryEvent) {
    const name = eventName(buf, i, have);
    if (name === undefined) return null;
    event = name;
  } else if (i < have && buf[i] !== 0x7b && buf[i] !== 0x5b && buf[i] !== 0x22) {
    // CONNECT carries an object, ACK an array, CONNECT_ERROR an object (or a string in v4 clients).
    return null;
  }
  return { type, namespace, event, attachments };
}

/**
 * The first element of a JSON array starting at `i`, if it is a string: the name, null when the
 * name runs past the bytes at hand, undefined when the payload is not an event array.
 */
function eventName(buf: Buffer, i: number, have: number): string | null | undefined {
  if (i >= have) return null;
  if (buf[i] !== 0x5b) return undefined;
  i++;
  while (i < have && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  if (i >= have) return null;
  if (buf[i] !== 0x22) return undefined;
  const start = i;
  i++;
  let escaped = false;
  while (i < have) {
    const b = buf[i];
    if (b === 0x5c) {
      escaped = true;
      i += 2;
      continue;
    }
    if (b === 0x22) {
      const raw = buf.toString('utf8', start, i + 1);
      if (!escaped) return raw.slice(1, -1);
      try {
        return JSON.parse(raw) as string;
      } catch {
        return undefined;
      }
    }
    i++;
  }
  return null;
}
