/** What every live connection (WebSocket, SSE stream, long-poll) tells the rest of the sidecar. */
import type { Transport } from '../metrics/definitions.js';
import type { ProtocolView } from '../protocols/decoder.js';

export interface LiveConnection {
  readonly id: string;
  readonly transport: Transport;
  readonly clientId: string;
  readonly peer: string;
  /** Request path with secrets redacted. */
  readonly path: string;
  /** Epoch milliseconds of the 101 (or of the request, for HTTP transports). */
  readonly startedAt: number;
  bytesIn(): number;
  bytesOut(): number;
  messagesIn(): number;
  messagesOut(): number;
  /** Bytes queued in the sidecar toward the client. */
  bufferedBytes(): number;
  /** What a protocol decoder knows about the connection; null when none claimed it. */
  protocolView?(): ProtocolView | null;
  /** Periodic housekeeping (heartbeats, timeouts); `now` is performance.now(). */
  tick?(now: number): void;
  /** Ask the connection to close (reason `shutdown`): `code` for WebSockets, `detail` for the log. */
  shutdown(code: number, detail?: string | null): void;
  /** Cut the connection at once, without a closing handshake. */
  abort(): void;
  /** Resolves once both sides are closed and the connection has been recorded. */
  readonly done: Promise<void>;
}

export interface ConnectionSnapshot {
  id: string;
  transport: Transport;
  client_id: string;
  peer: string;
  path: string;
  age_ms: number;
  bytes_in: number;
  bytes_out: number;
  messages_in: number;
  messages_out: number;
  buffered_bytes: number;
  protocol?: ProtocolView['protocol'];
  session?: string;
  transports?: string[];
  last_events?: string[];
  mqtt_version?: string;
  mqtt_client_id?: string;
  mqtt_refused?: string;
  compressed?: boolean;
}
