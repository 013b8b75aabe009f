/**
 * One engine.io session: everything that happens under one `sid`, across its polling requests
 * and its WebSocket, recorded as ONE close-log line when the session ends.
 *
 * States: Handshaking (no sid yet: a WebSocket-only session before its open packet) → Polling →
 * (upgrade packet) → WebSocket → Ended. The session ends, once, in `end()`:
 * - a close packet: from the client "transport close", from the server "forced close";
 * - its WebSocket ended (after the upgrade) without one: a clean close is "transport close" or
 *   "forced close" by who closed, a 1006 is "transport error";
 * - polling only: no poll for pingInterval + pingTimeout ("ping timeout", as the server sees it),
 *   or the server refused a poll with 400 (it forgot the sid: "transport error" unless a
 *   heartbeat was missed before).
 *
 * Heartbeats (EIO=4: the server pings, the client answers): a ping not answered within the
 * pingTimeout of the open packet is a miss by the client; no ping within pingInterval +
 * pingTimeout is a miss by the server.
 */
import type { SidecarContext } from '../../context.js';
import {
  type CloseInitiator,
  type Direction,
  type EngineioEndReason,
  SOCKETIO_PACKET_EVENTS,
} from '../../metrics/definitions.js';
import type { CloseRecord } from '../../telemetry/close-log.js';
import { directionOf, type ProtocolView } from '../decoder.js';
import type { ProtocolLabels } from '../labels-set.js';
import { EngineType, isProbe, parseOpen, parseSocketio, SocketioType } from './packets.js';

export type EngineTransport = 'polling' | 'websocket';

/** How many of the last Socket.IO event names a session remembers for the log and the live page. */
export const LAST_EVENTS = 5;

enum State {
  Handshaking,
  Polling,
  WebSocket,
  Ended,
}

export interface SessionOrigin {
  clientId: string;
  peer: string;
  path: string;
}

export class EngineSession {
  readonly id: string;
  sid = '';
  readonly transports: EngineTransport[] = [];
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly lastEvents: string[] = [];

  private state = State.Handshaking;
  private readonly t0: number;
  private readonly startedAtMs = Date.now();
  private pingInterval = 25000;
  private pingTimeout = 20000;
  /** When the server's unanswered ping was seen (0: none pending). */
  private pingAt = 0;
  /** When the server last pinged (or opened the session). */
  private lastPing: number;
  /** Polls in flight; when 0 (and no WebSocket), the session idles since `idleSince`. */
  private polls = 0;
  private idleSince = 0;
  /** A heartbeat miss already decided how this session will end. */
  private missed: 'client' | 'server' | null = null;
  /** Binary attachments still expected per direction (c2s, s2c). */
  private attachIn = 0;
  private attachOut = 0;
  private wsOpen = false;
  /** A close packet seen on the WebSocket: the session ends with it when the WebSocket does. */
  private closing: { reason: EngineioEndReason; initiator: CloseInitiator } | null = null;

  constructor(
    private readonly ctx: SidecarContext,
    private readonly registry: EngineSessions,
    readonly origin: SessionOrigin,
  ) {
    this.id = ctx.nextId();
    this.t0 = registry.now();
    this.lastPing = this.t0;
    ctx.metrics.protocolConnections.labels('engineio').inc();
  }

  get ended(): boolean {
    return this.state === State.Ended;
  }

  get transport(): EngineTransport {
    return this.state === State.WebSocket ? 'websocket' : 'polling';
  }

  view(): ProtocolView {
    return {
      protocol: 'engineio',
      session: this.sid,
      transports: [...this.transports],
      last_events: [...this.lastEvents],
    };
  }

  /** The session starts on `transport` with this sid (from an open packet, or a request that names it). */
  begin(sid: string, transport: EngineTransport): void {
    if (this.state !== State.Handshaking) return;
    this.sid = sid;
    this.transports.push(transport);
    this.state = transport === 'websocket' ? State.WebSocket : State.Polling;
    if (transport === 'websocket') this.wsOpen = true;
    this.registry.index(this);
  }

  // ---- polling requests ----

  pollStarted(): void {
    this.polls++;
    this.idleSince = 0;
  }

  /** A polling request ended with `status` (0 when the client went away first). */
  pollEnded(status: number): void {
    if (this.polls > 0) this.polls--;
    if (this.state === State.Ended) return;
    if (status === 400) {
      this.end(
        this.missed ? 'ping timeout' : 'transport error',
        this.missed === 'client' ? 'server' : 'client',
      );
      return;
    }
    if (this.polls === 0 && !this.wsOpen) this.idleSince = this.registry.now();
  }

  // ---- WebSocket ----

  /** A WebSocket of this session opened (an upgrade candidate until its upgrade packet). */
  wsStarted(): void {
    this.wsOpen = true;
    this.idleSince = 0;
  }

  /** A WebSocket of this session ended. Returns true when that ended the session. */
  wsEnded(code: number, initiator: CloseInitiator, bytesIn: number, bytesOut: number): boolean {
    this.wsOpen = false;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (this.state === State.Ended) return true;
    if (this.state === State.Handshaking) {
      // A WebSocket that never got its open packet: no session to speak of; the relay logs it.
      this.state = State.Ended;
      this.registry.forget(this);
      return false;
    }
    if (this.closing) {
      this.end(this.closing.reason, this.closing.initiator, code);
      return true;
    }
    if (this.state !== State.WebSocket) {
      // A probe that never completed its upgrade: the session goes on polling.
      if (this.polls === 0) this.idleSince = this.registry.now();
      return false;
    }
    if (this.missed) this.end('ping timeout', this.missed === 'client' ? 'server' : 'client', code);
    else if (code === 1006) this.end('transport error', initiator, code);
    else this.end(initiator === 'client' ? 'transport close' : 'forced close', initiator, code);
    return true;
  }

  // ---- packets from either transport ----

  /**
   * One engine.io packet. `buf[0..have)` holds its first bytes (for a text packet the type digit
   * first), `size` its whole length; `binary` packets are message packets of raw bytes.
   */
  packet(
    fromClient: boolean,
    transport: EngineTransport,
    buf: Buffer,
    have: number,
    size: number,
    binary: boolean,
  ): void {
    if (this.state === State.Ended) return;
    const m = this.ctx.metrics;
    const dir = directionOf(fromClient);
    if (binary) {
      // Binary packets are messages; after a Socket.IO binary packet they are its attachments.
      if (fromClient && this.attachIn > 0) this.attachIn--;
      else if (!fromClient && this.attachOut > 0) this.attachOut--;
      this.countMessage(fromClient, transport);
      return;
    }
    if (have === 0) {
      this.decodeError(dir);
      return;
    }
    switch (buf[0]) {
      case EngineType.Open: {
        const open = fromClient ? null : parseOpen(buf, have, size);
        if (!open) {
          this.decodeError(dir);
          return;
        }
        this.pingInterval = open.pingInterval;
        this.pingTimeout = open.pingTimeout;
        this.lastPing = this.registry.now();
        this.begin(open.sid, transport);
        return;
      }
      case EngineType.Close: {
        const reason = fromClient ? 'transport close' : 'forced close';
        const initiator = fromClient ? 'client' : 'server';
        // On a WebSocket, wait for it to close: the log line then has its close code and bytes.
        if (transport === 'websocket' && this.wsOpen) this.closing ??= { reason, initiator };
        else this.end(reason, initiator);
        return;
      }
      case EngineType.Ping:
      case EngineType.Pong: {
        if (isProbe(buf, have, size)) return;
        const ping = buf[0] === EngineType.Ping;
        m.engineioHeartbeats.labels(dir, ping ? 'ping' : 'pong').inc();
        const now = this.registry.now();
        if (ping && !fromClient) {
          if (this.pingAt === 0) this.pingAt = now;
          this.lastPing = now;
        } else if (!ping && fromClient) {
          this.pingAt = 0;
        }
        return;
      }
      case EngineType.Message:
        this.countMessage(fromClient, transport);
        this.socketio(fromClient, buf, have, size);
        return;
      case EngineType.Upgrade:
        if (fromClient && transport === 'websocket' && this.state === State.Polling) {
          this.state = State.WebSocket;
          this.transports.push('websocket');
          this.idleSince = 0;
        }
        return;
      case EngineType.Noop:
        return;
      default:
        this.decodeError(dir);
    }
  }

  private countMessage(fromClient: boolean, transport: EngineTransport): void {
    if (fromClient) this.messagesIn++;
    else this.messagesOut++;
    this.ctx.metrics.engineioMessages.labels(directionOf(fromClient), transport).inc();
  }

  private socketio(fromClient: boolean, buf: Buffer, have: number, size: number): void {
    const dir = directionOf(fromClient);
    const p = parseSocketio(buf, 1, have, have === size);
    if (!p) {
      this.decodeError(dir);
      return;
    }
    let name: string;
    switch (p.type) {
      case SocketioType.Connect:
        name = SOCKETIO_PACKET_EVENTS.connect;
        break;
      case SocketioType.Disconnect:
        name = SOCKETIO_PACKET_EVENTS.disconnect;
        break;
      case SocketioType.ConnectError:
        name = SOCKETIO_PACKET_EVENTS.connectError;
        break;
      case SocketioType.Ack:
      case SocketioType.BinaryAck:
        name = SOCKETIO_PACKET_EVENTS.ack;
        break;
      default:
        name = p.event ?? '';
    }
    if (p.attachments > 0) {
      if (fromClient) this.attachIn += p.attachments;
      else this.attachOut += p.attachments;
    }
    const labels = this.registry.labels;
    const event = p.event === null ? labels.other : labels.event.value(name);
    this.ctx.metrics.socketioEvents.labels(dir, labels.namespace.value(p.namespace), event).inc();
    if (p.type === SocketioType.Event || p.type === SocketioType.BinaryEvent) {
      if (this.lastEvents.length === LAST_EVENTS) this.lastEvents.shift();
      this.lastEvents.push(event);
    }
  }

  private decodeError(dir: Direction): void {
    this.ctx.metrics.protocolDecodeErrors.labels('engineio', dir).inc();
  }

  // ---- time ----

  tick(now: number): void {
    if (this.state === State.Ended || this.state === State.Handshaking) return;
    if (this.pingAt !== 0 && now - this.pingAt > this.pingTimeout) {
      this.pingAt = 0;
      this.missed ??= 'client';
      this.miss('client');
    }
    // After a miss by the client the server has dropped the session: its silence is no miss.
    if (this.missed === null && now - this.lastPing > this.pingInterval + this.pingTimeout) {
      this.lastPing = now;
      this.missed = 'server';
      this.miss('server');
    }
    if (this.idleSince !== 0 && now - this.idleSince > this.pingInterval + this.pingTimeout) {
      this.end('ping timeout', this.missed === 'server' ? 'client' : 'server');
    }
  }

  private miss(peer: 'client' | 'server'): void {
    const m = this.ctx.metrics;
    m.engineioHeartbeatMisses.labels(peer).inc();
    // On a WebSocket the heartbeat panels (ws_heartbeat_misses_total) show it too.
    if (this.state === State.WebSocket) m.heartbeatMisses.labels(peer).inc();
  }

  /** The one end of the session: count, log, forget. */
  end(reason: EngineioEndReason, initiator: CloseInitiator, closeCode: number | null = null): void {
    if (this.state === State.Ended) return;
    const onWs = this.state === State.WebSocket;
    this.state = State.Ended;
    this.registry.forget(this);
    const durationMs = this.registry.now() - this.t0;
    const transports = this.transports.length > 0 ? this.transports.join(',') : 'polling';
    this.ctx.metrics.engineioSessions.labels(transports, reason).inc();
    const record: CloseRecord = {
      ts: new Date().toISOString(),
      event: 'connection_closed',
      transport: onWs ? 'websocket' : 'longpoll',
      id: this.id,
      client_id: this.origin.clientId,
      peer: this.origin.peer,
      path: this.origin.path,
      close_code: closeCode,
      initiator,
      reason,
      detail: null,
      duration_ms: Math.round(durationMs),
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      messages_in: this.messagesIn,
      messages_out: this.messagesOut,
      protocol: 'engineio',
      session: this.sid,
      transports: [...this.transports],
      last_events: [...this.lastEvents],
    };
    this.ctx.log(record);
  }

  /** Epoch ms when the session started. */
  get startedAt(): number {
    return this.startedAtMs;
  }
}

/** The live engine.io sessions of a sidecar, by sid, and their shared timer. */
export class EngineSessions {
  private readonly bySid = new Map<string, EngineSession>();
  private readonly pending = new Set<EngineSession>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: SidecarContext,
    readonly labels: ProtocolLabels,
    readonly now: () => number = () => performance.now(),
    private readonly tickMs = 100,
  ) {
    ctx.metrics.engineioActive = () => this.bySid.size + this.pending.size;
  }

  /** A new session, not yet named (its sid comes with the open packet or from the request). */
  create(origin: SessionOrigin): EngineSession {
    const s = new EngineSession(this.ctx, this, origin);
    this.pending.add(s);
    this.ensureTimer();
    return s;
  }

  get(sid: string): EngineSession | undefined {
    return this.bySid.get(sid);
  }

  /** The session of `sid`, or a new one for a sid whose handshake the sidecar did not see. */
  adopt(sid: string, transport: EngineTransport, origin: SessionOrigin): EngineSession {
    const known = this.bySid.get(sid);
    if (known) return known;
    const s = this.create(origin);
    s.begin(sid, transport);
    return s;
  }

  index(s: EngineSession): void {
    this.pending.delete(s);
    if (s.sid) this.bySid.set(s.sid, s);
  }

  forget(s: EngineSession): void {
    this.pending.delete(s);
    if (this.bySid.get(s.sid) === s) this.bySid.delete(s.sid);
    if (this.size === 0) this.stop();
  }

  get size(): number {
    return this.bySid.size + this.pending.size;
  }

  sessions(): IterableIterator<EngineSession> {
    return this.bySid.values();
  }

  tick(now = this.now()): void {
    for (const s of [...this.bySid.values()]) s.tick(now);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }
}
