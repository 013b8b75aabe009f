/** The JSON line written to stdout for every closed connection and every failed upgrade. */
import type { CloseInitiator, CloseReason, Protocol, Transport } from '../metrics/definitions.js';

export interface CloseRecord {
  ts: string;
  event: 'connection_closed';
  transport: Transport;
  id: string;
  client_id: string;
  peer: string;
  path: string;
  close_code: number | null;
  initiator: CloseInitiator | null;
  /** One of CLOSE_REASONS. */
  reason: CloseReason;
  /** What varies within the reason (an errno, a status, the check that refused), or null. */
  detail: string | null;
  duration_ms: number;
  bytes_in: number;
  bytes_out: number;
  messages_in: number;
  messages_out: number;
  handshake_ms?: number;
  status?: number;
  trace_id?: string;
  /** Set when a protocol decoder claimed the connection (or the engine.io session). */
  protocol?: Protocol;
  /** engine.io sid. */
  session?: string;
  /** engine.io transports the session used, in order. */
  transports?: string[];
  /** The last Socket.IO event names of the session (oldest first). */
  last_events?: string[];
  /** MQTT: the protocol version of the CONNECT ("3.1", "3.1.1", "5"). */
  mqtt_version?: string;
  /** MQTT: the client id of the CONNECT, at most 23 printable ASCII characters (longer ones cut, with "…"). */
  mqtt_client_id?: string;
  /** MQTT: why the broker refused the connection in its CONNACK (a reason of mqtt_connack_refusals_total). */
  mqtt_refused?: string;
  /** permessage-deflate was negotiated: compressed messages were counted, not decoded. */
  compressed?: boolean;
  /** SSE: comment lines (keep-alives) relayed; they are not events. */
  comments?: number;
  /** SSE: the request carried Last-Event-ID. */
  resumed?: boolean;
  /** SSE: the last retry: value the server sent, in ms. */
  retry_ms?: number;
}

export type CloseLogger = (record: CloseRecord) => void;

export function jsonLineLogger(write: (line: string) => void = (l) => process.stdout.write(l)): CloseLogger {
  return (record) => write(`${JSON.stringify(record)}\n`);
}

export const silentLogger: CloseLogger = () => {};
