// The messages the realtime client hands to onMessage, whatever the transport (browser-safe).

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export interface RealtimeMessage {
  /** The room's sequence number, or null for a frame that was not a broadcast (e.g. an echo). */
  seq: number | null;
  room: string | null;
  data: unknown;
  /** The backend node that accepted the publish, and the one that delivered it to us. */
  origin: string | null;
  node: string | null;
  /** Publish time (ms since the epoch) as stamped by the origin node. */
  t: number | null;
  transport: TransportName;
}

interface Envelope {
  type: 'message';
  seq: number;
  room?: string;
  data?: unknown;
  origin?: string;
  node?: string;
  t?: number;
}

function isEnvelope(v: unknown): v is Envelope {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as Envelope).type === 'message' &&
    typeof (v as Envelope).seq === 'number'
  );
}

/** A backend broadcast envelope becomes a RealtimeMessage; anything else is passed as raw data. */
export function toRealtimeMessage(value: unknown, transport: TransportName): RealtimeMessage {
  if (!isEnvelope(value))
    return { seq: null, room: null, data: value, origin: null, node: null, t: null, transport };
  return {
    seq: value.seq,
    room: value.room ?? null,
    data: value.data,
    origin: value.origin ?? null,
    node: value.node ?? null,
    t: value.t ?? null,
    transport,
  };
}

/** Parses a text frame/event as JSON when it is JSON, else keeps the text. */
export function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
