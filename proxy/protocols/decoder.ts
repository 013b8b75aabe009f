/**
 * What a protocol decoder is to the WebSocket relay. A decoder claims a connection at the 101
 * (by its negotiated subprotocol, or for engine.io by path and query) and then sees the first
 * bytes of every data message of both directions through two MessageSinks, which the frame
 * scanners feed. It never touches the relayed bytes: whatever it concludes, or fails to parse,
 * the relay forwards the stream unchanged.
 *
 * Connections no decoder claims get no sink at all: their relay path is the plain one.
 */
import type { CloseInitiator, Direction, Protocol } from '../metrics/definitions.js';
import type { MessageSink } from '../ws/frame-scanner.js';

/** How many bytes of each message a decoder reads. Enough for every header the decoders parse. */
export const PREFIX_BYTES = 256;

/** What the close log, /connections and the live page show about a decoded connection. */
export interface ProtocolView {
  protocol: Protocol;
  /** engine.io sid. */
  session?: string;
  /** engine.io transports used so far, in order. */
  transports?: string[];
  /** The last Socket.IO event names (oldest first). */
  last_events?: string[];
  /** MQTT: the protocol version of the CONNECT ("3.1", "3.1.1", "5"). */
  mqtt_version?: string;
  /** MQTT: the client id of the CONNECT, at most 23 printable ASCII characters (longer ones cut, with "…"). */
  mqtt_client_id?: string;
  /** MQTT: why the broker refused the connection in its CONNACK (a reason of mqtt_connack_refusals_total). */
  mqtt_refused?: string;
  /** permessage-deflate was negotiated: compressed messages are counted, not read. */
  compressed?: boolean;
}

/** How the WebSocket ended, as the relay decided it. */
export interface WsEnd {
  closeCode: number;
  initiator: CloseInitiator;
  reason: string;
  detail?: string | null;
  bytesIn: number;
  bytesOut: number;
}

export interface WsDecoder {
  readonly protocol: Protocol;
  readonly c2s: MessageSink;
  readonly s2c: MessageSink;
  /** Periodic work (heartbeat deadlines); `now` is performance.now(). */
  tick(now: number): void;
  /**
   * The WebSocket is closed. Returns true when the decoder writes the close-log line itself
   * (engine.io: one line per session, which may outlive or predate this WebSocket).
   */
  ended(end: WsEnd): boolean;
  view(): ProtocolView;
}

export const directionOf = (fromClient: boolean): Direction =>
  fromClient ? 'client_to_server' : 'server_to_client';

/** A MessageSink with its own prefix buffer that hands each message to a handler with its direction. */
export class PrefixSink implements MessageSink {
  readonly prefix = Buffer.allocUnsafe(PREFIX_BYTES);

  constructor(
    private readonly fromClient: boolean,
    private readonly handler: (
      fromClient: boolean,
      prefix: Buffer,
      opcode: number,
      size: number,
      have: number,
      compressed: boolean,
    ) => void,
  ) {}

  onMessage(opcode: number, size: number, have: number, compressed: boolean): void {
    this.handler(this.fromClient, this.prefix, opcode, size, have, compressed);
  }
}
