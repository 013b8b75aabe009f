/**
 * MQTT over WebSocket: the subprotocol `mqtt` (MQTT 3.1.1 and 5) or `mqttv3.1` (MQTT 3.1).
 *
 * The WebSocket messages of each direction carry one byte stream of MQTT control packets, and
 * the two are cut independently: a packet may span several messages (the Node mqtt client and
 * aedes write a packet in pieces, one message each), and a message may carry several packets.
 * A PacketReader per direction therefore follows the stream incrementally through named states
 * (fixed header byte, remaining-length varint, body), with fixed buffers and no per-message
 * allocation. It sees the first PREFIX_BYTES of each message: bytes past them that fall inside a
 * packet body are skipped by count; a packet header past them cannot be seen, so the reader
 * loses the packet boundaries (counted once as a decode error) and picks them up again at the
 * start of a later message that begins with a valid fixed header. A compressed message
 * (permessage-deflate) is counted, not read, and loses the boundaries the same way.
 *
 * What is decoded: every packet by type and direction; CONNECT (protocol level, keep-alive,
 * client id); CONNACK (refusal reason; the MQTT 5 Server Keep Alive that overrides the
 * client's); PINGREQ/PINGRESP (the heartbeats). Keep-alive, as a broker applies it: a client that
 * sends nothing for 1.5 times the keep-alive is a miss by the client; a PINGREQ not answered
 * within the keep-alive is a miss by the server (what the client concludes from it).
 */
import type { SidecarContext } from '../context.js';
import { type Direction, MQTT_REFUSAL_REASONS, type MqttRefusalReason } from '../metrics/definitions.js';
import { directionOf, PrefixSink, type ProtocolView, type WsDecoder, type WsEnd } from './decoder.js';

export const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** Body bytes kept per packet: enough for CONNECT's header and a client id, CONNACK's properties. */
const BODY_BYTES = 128;
/** Longest client id the close log and /connections show (the MQTT 3.1 limit); longer ones are cut. */
export const CLIENT_ID_SHOWN = 23;

enum PacketType {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Pubrel = 6,
  Subscribe = 8,
  Unsubscribe = 10,
  Pingreq = 12,
  Pingresp = 13,
}

enum ReadState {
  /** Expecting the first byte of a packet: type and flags. */
  FixedHeader,
  /** Reading the remaining-length varint (1 to 4 bytes). */
  RemainingLength,
  /** Passing the body; its first BODY_BYTES are kept. */
  Body,
  /** Packet boundaries lost; waiting for a message that starts with a valid fixed header. */
  Lost,
}

/** Whether `b` is a valid MQTT fixed header byte (a known type with the flags it requires). */
export function validFixedHeader(b: number): boolean {
  const type = b >> 4;
  const flags = b & 0x0f;
  if (type === 0) return false;
  if (type === PacketType.Publish) return (flags & 0x06) !== 0x06; // QoS 3 is malformed
  if (type === PacketType.Pubrel || type === PacketType.Subscribe || type === PacketType.Unsubscribe)
    return flags === 0x02;
  return flags === 0;
}

/** The packet stream of one direction. */
export class PacketReader {
  state = ReadState.FixedHeader;
  /** The first bytes of the current packet's body. */
  readonly body = Buffer.allocUnsafe(BODY_BYTES);
  bodyHave = 0;
  private header = 0;
  private length = 0;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(
    /** A whole packet went by: its fixed header byte, the first `have` body bytes, its body length. */
    private readonly onPacket: (header: number, body: Buffer, have: number, length: number) => void,
    /** The boundaries were lost (a malformed header, or a header the reader could not see). */
    private readonly onLost: () => void,
  ) {}

  /** One WebSocket message: `buf[0..have)` holds its first bytes, `size` is its whole length. */
  message(buf: Buffer, have: number, size: number): void {
    if (this.state === ReadState.Lost) {
      if (have === 0 || !validFixedHeader(buf[0])) return;
      this.state = ReadState.FixedHeader;
    }
    let pos = 0;
    while (pos < have && !this.lost) pos = this.step(buf, pos, have);
    if (size > have && !this.lost) this.skip(size - have);
  }

  get lost(): boolean {
    return this.state === ReadState.Lost;
  }

  /** Bytes the reader cannot see (a compressed message): the boundaries are lost. */
  unseen(): void {
    this.state = ReadState.Lost;
  }

  private step(buf: Buffer, pos: number, end: number): number {
    switch (this.state) {
      case ReadState.FixedHeader:
        return this.readFixedHeader(buf, pos);
      case ReadState.RemainingLength:
        return this.readLength(buf, pos);
      default:
        return this.readBody(buf, pos, end);
    }
  }

  private readFixedHeader(buf: Buffer, pos: number): number {
    const b = buf[pos];
    if (!validFixedHeader(b)) return this.lose(pos);
    this.header = b;
    this.length = 0;
    this.lengthBytes = 0;
    this.state = ReadState.RemainingLength;
    return pos + 1;
  }

  private readLength(buf: Buffer, pos: number): number {
    const b = buf[pos];
    this.length += (b & 0x7f) * 128 ** this.lengthBytes;
    this.lengthBytes++;
    if ((b & 0x80) !== 0) {
      if (this.lengthBytes === 4) return this.lose(pos); // a fifth length byte is malformed
      return pos + 1;
    }
    this.remaining = this.length;
    this.bodyHave = 0;
    if (this.remaining === 0) this.packetDone();
    else this.state = ReadState.Body;
    return pos + 1;
  }

  private readBody(buf: Buffer, pos: number, end: number): number {
    const take = Math.min(end - pos, this.remaining);
    const keep = Math.min(take, BODY_BYTES - this.bodyHave);
    if (keep > 0) {
      buf.copy(this.body, this.bodyHave, pos, pos + keep);
      this.bodyHave += keep;
    }
    this.remaining -= take;
    if (this.remaining === 0) this.packetDone();
    return pos + take;
  }

  /** Skips `n` bytes the reader did not get: fine inside a body, fatal for a header. */
  private skip(n: number): void {
    if (this.state === ReadState.Body && n <= this.remaining) {
      this.remaining -= n;
      if (this.remaining === 0) this.packetDone();
      return;
    }
    if (this.state === ReadState.Body) this.packetDone();
    this.lose(0);
  }

  private packetDone(): void {
    this.state = ReadState.FixedHeader;
    this.onPacket(this.header, this.body, this.bodyHave, this.length);
  }

  private lose(pos: number): number {
    this.state = ReadState.Lost;
    this.onLost();
    return pos;
  }
}

/**
 * The refusal reason of a CONNACK code. Codes 1-5 are the MQTT 3.1/3.1.1 return codes (also what
 * a 3.1.1-only broker answers an MQTT 5 client: 1, unacceptable protocol version); 0x80 and up
 * are MQTT 5 reason codes.
 */
export function refusalReason(code: number): MqttRefusalReason {
  if (code >= 1 && code <= 5) return MQTT_REFUSAL_REASONS[code - 1];
  switch (code) {
    case 0x80:
      return 'unspecified_error';
    case 0x81:
      return 'malformed_packet';
    case 0x82:
      return 'protocol_error';
    case 0x83:
      return 'implementation_specific_error';
    case 0x84:
      return 'unsupported_protocol_version';
    case 0x85:
      return 'client_identifier_not_valid';
    case 0x86:
      return 'bad_user_name_or_password';
    case 0x87:
      return 'not_authorized';
    case 0x88:
      return 'server_unavailable';
    case 0x89:
      return 'server_busy';
    case 0x8a:
      return 'banned';
    case 0x8c:
      return 'bad_authentication_method';
    case 0x90:
      return 'topic_name_invalid';
    case 0x95:
      return 'packet_too_large';
    case 0x97:
      return 'quota_exceeded';
    case 0x99:
      return 'payload_format_invalid';
    case 0x9a:
      return 'retain_not_supported';
    case 0x9b:
      return 'qos_not_supported';
    case 0x9c:
      return 'use_another_server';
    case 0x9d:
      return 'server_moved';
    case 0x9f:
      return 'connection_rate_exceeded';
    default:
      return 'other';
  }
}

/** Reads a variable byte integer at `pos`; returns [value, bytes] or null when it does not fit in `have`. */
function varint(b: Buffer, pos: number, have: number): [number, number] | null {
  let v = 0;
  for (let i = 0; i < 4 && pos + i < have; i++) {
    v += (b[pos + i] & 0x7f) * 128 ** i;
    if ((b[pos + i] & 0x80) === 0) return [v, i + 1];
  }
  return null;
}

/**
 * The MQTT 5 Server Keep Alive (property 0x13) among CONNACK properties at `pos`, or -1. Stops at
 * the first property it cannot size (the kept bytes end, or an identifier the CONNACK may not carry).
 */
function serverKeepAlive(b: Buffer, pos: number, have: number): number {
  const len = varint(b, pos, have);
  if (!len) return -1;
  let p = pos + len[1];
  const end = Math.min(have, p + len[0]);
  while (p < end) {
    const id = b[p++];
    switch (id) {
      case 0x13: // Server Keep Alive: two-byte integer
        return p + 2 <= end ? b.readUInt16BE(p) : -1;
      case 0x24: // Maximum QoS, Retain Available, wildcard/shared/subscription-id available: byte
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2a:
        p += 1;
        break;
      case 0x21: // Receive Maximum, Topic Alias Maximum: two-byte integer
      case 0x22:
        p += 2;
        break;
      case 0x11: // Session Expiry Interval, Maximum Packet Size: four-byte integer
      case 0x27:
        p += 4;
        break;
      case 0x12: // strings and binary data: two-byte length, then the bytes
      case 0x15:
      case 0x16:
      case 0x1a:
      case 0x1c:
      case 0x1f:
        if (p + 2 > end) return -1;
        p += 2 + b.readUInt16BE(p);
        break;
      case 0x26: // User Property: a string pair
        for (let i = 0; i < 2; i++) {
          if (p + 2 > end) return -1;
          p += 2 + b.readUInt16BE(p);
        }
        break;
      default:
        return -1;
    }
  }
  return -1;
}

/** A client id as the log shows it: at most CLIENT_ID_SHOWN printable ASCII characters. */
function shownClientId(b: Buffer, pos: number, len: number): string {
  let s = '';
  const n = Math.min(len, CLIENT_ID_SHOWN);
  for (let i = 0; i < n; i++) {
    const c = b[pos + i];
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return len > CLIENT_ID_SHOWN ? `${s}…` : s;
}

const VERSIONS: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5' };

export class MqttDecoder implements WsDecoder {
  readonly protocol = 'mqtt' as const;
  readonly c2s: PrefixSink;
  readonly s2c: PrefixSink;
  private readonly fromClient: PacketReader;
  private readonly fromServer: PacketReader;
  /** Protocol level of the CONNECT: 3 (3.1), 4 (3.1.1), 5; 0 before it. */
  private level = 0;
  private clientId: string | null = null;
  private refusal: MqttRefusalReason | null = null;
  /** The keep-alive in force, in ms (0: off). */
  private keepAliveMs = 0;
  /** When the client last sent something. */
  private lastFromClient: number;
  /** A miss by the client was counted for its current silence. */
  private clientSilent = false;
  /** When the client's unanswered PINGREQ went by (0: none). */
  private pingAt = 0;

  constructor(
    private readonly ctx: SidecarContext,
    readonly subprotocol: string,
  ) {
    this.c2s = new PrefixSink(true, (_c, prefix, _o, size, have, compressed) =>
      this.message(true, prefix, size, have, compressed),
    );
    this.s2c = new PrefixSink(false, (_c, prefix, _o, size, have, compressed) =>
      this.message(false, prefix, size, have, compressed),
    );
    this.fromClient = new PacketReader(
      (h, body, have, length) => this.packet(true, h, body, have, length),
      () => this.decodeError('client_to_server'),
    );
    this.fromServer = new PacketReader(
      (h, body, have, length) => this.packet(false, h, body, have, length),
      () => this.decodeError('server_to_client'),
    );
    this.lastFromClient = ctx.clock.now();
    ctx.metrics.protocolConnections.labels('mqtt').inc();
  }

  private message(
    fromClient: boolean,
    prefix: Buffer,
    size: number,
    have: number,
    compressed: boolean,
  ): void {
    const reader = fromClient ? this.fromClient : this.fromServer;
    if (fromClient) {
      this.lastFromClient = this.ctx.clock.now();
      this.clientSilent = false;
    }
    if (compressed) {
      this.ctx.metrics.protocolCompressed.labels('mqtt', directionOf(fromClient)).inc();
      reader.unseen();
      return;
    }
    reader.message(prefix, have, size);
  }

  private packet(fromClient: boolean, header: number, body: Buffer, have: number, length: number): void {
    const type = header >> 4;
    // A plain number per packet; mqtt_packets_total reads them at scrape time.
    this.ctx.metrics.mqttPacketCounts[(fromClient ? 0 : 16) + type]++;
    if (fromClient) {
      if (type === PacketType.Connect) this.connect(body, have);
      else if (type === PacketType.Pingreq && this.pingAt === 0) this.pingAt = this.ctx.clock.now();
    } else if (type === PacketType.Connack) {
      this.connack(body, have, length);
    } else if (type === PacketType.Pingresp) {
      this.pingAt = 0;
    }
  }

  /** CONNECT: protocol name, level, flags, keep-alive, (MQTT 5: properties), client id. */
  private connect(b: Buffer, have: number): void {
    const nameLen = have < 2 ? 0 : b.readUInt16BE(0);
    let p = 2 + nameLen;
    if (have < 2 || p + 4 > have) {
      this.decodeError('client_to_server');
      return;
    }
    this.level = b[p];
    this.keepAliveMs = b.readUInt16BE(p + 2) * 1000;
    p += 4;
    if (this.level === 5) {
      const props = varint(b, p, have);
      if (!props) return;
      p += props[1] + props[0];
    }
    if (p + 2 > have) return;
    const idLen = b.readUInt16BE(p);
    // The part of the id that was kept; a longer one is cut anyway.
    const kept = Math.min(idLen, have - p - 2);
    if (kept < Math.min(idLen, CLIENT_ID_SHOWN)) return;
    this.clientId = shownClientId(b, p + 2, idLen);
  }

  /** CONNACK: flags, return (reason) code, and for MQTT 5 properties. */
  private connack(b: Buffer, have: number, length: number): void {
    if (have < 2) {
      this.decodeError('server_to_client');
      return;
    }
    const code = b[1];
    if (code !== 0) {
      this.refusal = refusalReason(code);
      this.ctx.metrics.mqttConnackRefusals.labels(this.refusal).inc();
      return;
    }
    if (this.level === 5 && length > 2) {
      const keepAlive = serverKeepAlive(b, 2, have);
      if (keepAlive >= 0) this.keepAliveMs = keepAlive * 1000;
    }
  }

  private decodeError(dir: Direction): void {
    this.ctx.metrics.protocolDecodeErrors.labels('mqtt', dir).inc();
  }

  tick(now: number): void {
    if (this.keepAliveMs === 0) return;
    if (!this.clientSilent && now - this.lastFromClient >= 1.5 * this.keepAliveMs) {
      this.clientSilent = true;
      this.miss('client');
    }
    if (this.pingAt !== 0 && now - this.pingAt >= this.keepAliveMs) {
      this.pingAt = 0;
      this.miss('server');
    }
  }

  private miss(peer: 'client' | 'server'): void {
    this.ctx.metrics.mqttKeepaliveMisses.labels(peer).inc();
    // The heartbeat panels (ws_heartbeat_misses_total) show it too, as engine.io's misses.
    this.ctx.metrics.heartbeatMisses.labels(peer).inc();
  }

  ended(_end: WsEnd): boolean {
    // A broker that closed on the keep-alive did so at the deadline, maybe before the next tick.
    this.tick(this.ctx.clock.now());
    return false;
  }

  view(): ProtocolView {
    const v: ProtocolView = { protocol: 'mqtt' };
    if (this.level !== 0) v.mqtt_version = VERSIONS[this.level] ?? String(this.level);
    if (this.clientId !== null) v.mqtt_client_id = this.clientId;
    if (this.refusal !== null) v.mqtt_refused = this.refusal;
    return v;
  }
}
