/**
 * A relayed WebSocket connection after the 101: two pipes (client→backend, backend→client),
 * the accounting of messages, bytes and pings, the sidecar's own actions (heartbeat, slow
 * consumers, maximum age, shutdown) and, once both sockets are closed, the record of how it
 * ended: the close metric, the JSON log line and the span.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Span } from '@opentelemetry/api';
import type { Cancel } from '../clock.js';
import { recordEnding } from '../connections/ending.js';
import type { LiveConnection } from '../connections/live.js';
import type { SidecarContext } from '../context.js';
import { type CloseInitiator, type CloseReason, closeCodeLabel } from '../metrics/definitions.js';
import type { ProtocolView, WsDecoder } from '../protocols/decoder.js';
import { recordedTraceId } from '../telemetry/tracing.js';
import { closeFrame, pingFrame } from './frames.js';
import { Pipe, type PipeOwner } from './pipe.js';

/**
 * The connection a relayed socket belongs to. The sockets' events (end, error, close, drain) have
 * one listener each, shared by every connection: it finds its connection through this field of
 * the socket it is called on, so a connection costs no closure per event.
 */
const kRelay: unique symbol = Symbol('socketlens.relay');
interface RelaySocket extends Socket {
  [kRelay]: WsConnection;
}

/** Liveness of one side for the sidecar's heartbeat (made only when the heartbeat is on). */
interface Liveness {
  lastSeen: number;
  /** When our ping went on the wire (0 = no ping outstanding). */
  pingAt: number;
  /** Our ping waits behind a frame in progress: it has not reached this side yet. */
  pingQueued: boolean;
  /** Our pings sent whose pong has not come back (the pong matcher stays on while > 0). */
  outstanding: number;
  misses: number;
}

function liveness(now: number): Liveness {
  return { lastSeen: now, pingAt: 0, pingQueued: false, outstanding: 0, misses: 0 };
}

export interface WsConnectionInit {
  id: string;
  clientId: string;
  peer: string;
  path: string;
  handshakeMs: number;
  span: Span;
  /** permessage-deflate was negotiated: RSV1 is legal in both directions. */
  compressed: boolean;
  /** The subprotocol the backend chose (Sec-WebSocket-Protocol of the 101), or ''. */
  protocol?: string;
  /** The protocol decoder that claimed the connection, if any. */
  decoder?: WsDecoder | null;
}

export class WsConnection implements LiveConnection, PipeOwner {
  readonly transport = 'websocket' as const;
  readonly id: string;
  readonly clientId: string;
  readonly peer: string;
  readonly path: string;
  readonly protocol: string;
  readonly startedAt: number;

  private readonly t0: number;
  private readonly c2s: Pipe;
  private readonly s2c: Pipe;
  private readonly span: Span;
  private readonly handshakeMs: number;
  private readonly decoder: WsDecoder | null;
  private readonly compressed: boolean;

  // How the connection ended: decided once, by the first event that tells (see decide()).
  private initiator: CloseInitiator | null = null;
  private closeCode: number | null = null;
  private reason: CloseReason | null = null;
  private detail: string | null = null;
  private clientClosed = false;
  private upstreamClosed = false;
  private finished = false;
  // `done` is made on first use: most connections never have anyone waiting for their end.
  private donePromise: Promise<void> | null = null;
  private resolveDone: (() => void) | null = null;
  private cancelDrain: Cancel | null = null;
  private brokenSeen = 0;
  private closingByProxy = false;

  // Passive heartbeat watch: when an end's ping is still unanswered (performance.now(), 0 = none).
  private serverPingAt = 0;
  private clientPingAt = 0;

  // Active heartbeat (sidecar pings), per side; null when it is off for that side.
  private readonly token: Buffer | null;
  private readonly clientLive: Liveness | null;
  private readonly upstreamLive: Liveness | null;
  // Bytes came from that side since the last tick (the heartbeat's quiet clock restarts).
  private clientSeen = false;
  private upstreamSeen = false;

  private readonly ageDeadline: number;
  private overLimitSince = 0;
  // The global bound's stall watch (see shedIfStalled): since when the client's queue made no
  // progress, and the flushed-bytes mark it is compared against (-1 = none taken).
  private stalledSince = 0;
  private flushedMark = -1;

  constructor(
    private readonly ctx: SidecarContext,
    readonly client: Socket,
    readonly upstream: Socket,
    init: WsConnectionInit,
  ) {
    this.id = init.id;
    this.clientId = init.clientId;
    this.peer = init.peer;
    this.path = init.path;
    this.protocol = init.protocol ?? '';
    this.span = init.span;
    this.handshakeMs = init.handshakeMs;
    this.t0 = ctx.clock.now();
    this.startedAt = ctx.clock.wall();
    this.stalledSince = this.t0;

    const cfg = ctx.config;
    (client as RelaySocket)[kRelay] = this;
    (upstream as RelaySocket)[kRelay] = this;
    this.c2s = new Pipe(client, upstream, true, this);
    this.s2c = new Pipe(upstream, client, false, this);
    this.c2s.scanner.allowRsv1 = init.compressed;
    this.s2c.scanner.allowRsv1 = init.compressed;
    this.c2s.scanner.sizes = ctx.metrics.messageSizeIn;
    this.s2c.scanner.sizes = ctx.metrics.messageSizeOut;
    this.compressed = init.compressed;
    this.decoder = init.decoder ?? null;
    if (this.decoder) {
      this.c2s.scanner.sink = this.decoder.c2s;
      this.s2c.scanner.sink = this.decoder.s2c;
    }
    if (cfg.slowConsumer) this.s2c.queueLimit = cfg.maxBufferBytes;
    this.s2c.budget = ctx.budget;

    const now = this.t0;
    const heartbeat = cfg.heartbeatInterval > 0;
    this.token = heartbeat ? Buffer.concat([Buffer.from('sl:'), randomBytes(9)]) : null;
    this.clientLive = heartbeat ? liveness(now) : null;
    this.upstreamLive = heartbeat && cfg.heartbeatUpstream ? liveness(now) : null;
    this.ageDeadline =
      cfg.maxConnectionAge > 0
        ? now + cfg.maxConnectionAge * (1 - ctx.clock.random() * cfg.maxConnectionAgeJitter)
        : Number.POSITIVE_INFINITY;

    for (const sock of [client, upstream]) {
      ctx.sockets.handOver(sock);
      sock.on('drain', onRelayDrain);
      sock.on('end', onRelayEnd);
      sock.on('error', onRelayError);
      sock.on('close', onRelayClose);
    }
  }

  // ---- LiveConnection ----
  get done(): Promise<void> {
    if (this.donePromise === null) {
      this.donePromise = this.finished
        ? Promise.resolve()
        : new Promise((r) => {
            this.resolveDone = r;
          });
    }
    return this.donePromise;
  }
  bytesIn(): number {
    return this.c2s.relayedBytes;
  }
  bytesOut(): number {
    return this.s2c.relayedBytes;
  }
  messagesIn(): number {
    return this.c2s.relayedMessages;
  }
  messagesOut(): number {
    return this.s2c.relayedMessages;
  }
  bufferedBytes(): number {
    return this.client.writableLength;
  }
  protocolView(): ProtocolView | null {
    if (!this.decoder) return null;
    const v = this.decoder.view();
    return this.compressed ? { ...v, compressed: true } : v;
  }

  /** Relays the bytes that came with the upgrade request and with the 101. */
  start(clientHead: Buffer, upstreamHead: Buffer): void {
    this.c2s.feed(clientHead);
    this.s2c.feed(upstreamHead);
    this.client.setNoDelay(true);
    this.upstream.setNoDelay(true);
    // A FIN that arrived while the backend was answering the upgrade was emitted as 'end' before
    // our listeners existed: relay it now, or the backend would never learn of it.
    if (this.client.readableEnded) this.onEnd(true);
    if (this.upstream.readableEnded) this.onEnd(false);
  }

  // ---- PipeOwner: per-chunk accounting ----
  onChunk(
    pipe: Pipe,
    bytes: number,
    messages: number,
    pings: number,
    pongs: number,
    closeSeen: boolean,
  ): void {
    const t = this.ctx.metrics.tally;
    if (pipe.fromClient) {
      t.wsBytesReceived += bytes;
      t.wsMessagesReceived += messages;
      this.clientSeen = true;
      if (pings !== 0) {
        t.pingsClientToServer += pings;
        if (this.clientPingAt === 0) this.clientPingAt = this.ctx.clock.now();
      }
      if (pongs !== 0) {
        t.pongsClientToServer += pongs;
        this.serverPingAt = 0;
      }
    } else {
      t.wsBytesSent += bytes;
      t.wsMessagesSent += messages;
      this.upstreamSeen = true;
      if (pings !== 0) {
        t.pingsServerToClient += pings;
        if (this.serverPingAt === 0) this.serverPingAt = this.ctx.clock.now();
      }
      if (pongs !== 0) {
        t.pongsServerToClient += pongs;
        this.clientPingAt = 0;
      }
    }
    if (closeSeen) this.onCloseFrame(pipe);
    if (pipe.scanner.broken && (this.brokenSeen & (pipe.fromClient ? 1 : 2)) === 0) {
      this.brokenSeen |= pipe.fromClient ? 1 : 2;
      this.ctx.metrics.protocolErrors.labels(pipe.fromClient ? 'client_to_server' : 'server_to_client').inc();
    }
  }

  onOwnPong(pipe: Pipe): void {
    const live = pipe.fromClient ? this.clientLive : this.upstreamLive;
    if (live) {
      live.pingAt = 0;
      live.misses = 0;
      if (live.outstanding > 0) live.outstanding--;
      // A late pong to an earlier ping: keep matching until the last one is back.
      if (live.outstanding > 0) return;
    }
    pipe.scanner.matchToken = null;
  }

  private onCloseFrame(pipe: Pipe): void {
    if (pipe.scanner.closes !== 1) return;
    this.decide(
      pipe.fromClient ? 'client' : 'server',
      pipe.scanner.closeCode,
      pipe.fromClient ? 'client_close' : 'server_close',
    );
    // During a close the sidecar started, an end's answering close frame means that end is done:
    // we end its socket, as the server side of the client and as a client of the backend.
    if (this.closingByProxy) {
      const sock = pipe.fromClient ? this.client : this.upstream;
      sock.end();
    }
  }

  // ---- periodic work (one shared timer for all connections) ----
  tick(now: number): void {
    if (this.finished || this.closingByProxy) return;
    this.decoder?.tick(now);
    const cfg = this.ctx.config;
    if (this.serverPingAt !== 0 && now - this.serverPingAt >= cfg.pongTimeout) {
      this.serverPingAt = 0;
      this.ctx.metrics.heartbeatMisses.labels('client').inc();
    }
    if (this.clientPingAt !== 0 && now - this.clientPingAt >= cfg.pongTimeout) {
      this.clientPingAt = 0;
      this.ctx.metrics.heartbeatMisses.labels('server').inc();
    }
    if (this.clientLive !== null) {
      const clientSeen = this.clientSeen;
      this.clientSeen = false;
      if (this.heartbeat(now, this.clientLive, clientSeen, this.c2s, this.s2c, 'client')) return;
      if (this.upstreamLive !== null) {
        const upstreamSeen = this.upstreamSeen;
        this.upstreamSeen = false;
        if (this.heartbeat(now, this.upstreamLive, upstreamSeen, this.s2c, this.c2s, 'server')) return;
      }
    }
    if (this.shedIfStalled(now)) return;
    if (cfg.slowConsumer) {
      if (this.client.writableLength > cfg.maxBufferBytes) {
        if (this.overLimitSince === 0) this.overLimitSince = now;
        else if (now - this.overLimitSince >= cfg.slowConsumerGrace) {
          this.cutSlowConsumer('queue_over_limit');
          return;
        }
      } else {
        this.overLimitSince = 0;
      }
    }
    if (now >= this.ageDeadline) this.closeByProxy(1001, 'max_connection_age');
  }

  /**
   * The global bound (--max-total-buffer-bytes): pausing the backend sides cannot bring the total
   * down while the bytes sit in the queues of clients that do not read. Once the total has been
   * over the bound for the slow-consumer grace period, a client that holds queued bytes and had
   * none of them flushed in that time is one of those holding the total up: it is cut as a slow
   * consumer. A client that reads again within the grace period (a pause, a slow network) keeps
   * its connection; its own pipe resumes as soon as its queue has drained (see Pipe.onDrain).
   */
  private shedIfStalled(now: number): boolean {
    const queued = this.client.writableLength;
    const over = this.ctx.budget.overFor(now);
    if (over < 0 || queued === 0) {
      this.stalledSince = now;
      this.flushedMark = -1;
      return false;
    }
    // Bytes handed to the kernel so far; read only while the total is over the bound.
    const flushed = this.client.bytesWritten - queued;
    if (this.flushedMark !== -1 && flushed !== this.flushedMark) this.stalledSince = now;
    this.flushedMark = flushed;
    const grace = this.ctx.config.slowConsumerGrace;
    if (over < grace || now - this.stalledSince < grace) return false;
    this.cutSlowConsumer('total_over_bound');
    return true;
  }

  /** Disconnects the client as a slow consumer (its queue or its share of the global bound). */
  cutSlowConsumer(detail: string): void {
    if (this.finished || this.closingByProxy) return;
    this.ctx.metrics.slowConsumerDisconnects.inc();
    this.closeByProxy(1008, 'slow_consumer', 'client_slow', detail);
  }

  /**
   * One side's heartbeat: ping once it has been quiet for the interval; count a miss for each
   * interval a ping stays unanswered on the wire; after `heartbeatMisses` misses, terminate that
   * side. A ping still queued behind a frame in progress has not reached the side, so it is not
   * charged to it. `seen`: the side sent bytes since the last tick. `from` carries the side's bytes
   * (and its pongs); `to` carries our pings to it.
   */
  private heartbeat(
    now: number,
    live: Liveness,
    seen: boolean,
    from: Pipe,
    to: Pipe,
    peer: 'client' | 'server',
  ): boolean {
    const cfg = this.ctx.config;
    if (seen) {
      live.lastSeen = now;
      live.pingAt = 0;
      live.misses = 0;
      return false;
    }
    if (live.pingQueued) return false;
    if (live.pingAt === 0) {
      if (now - live.lastSeen >= cfg.heartbeatInterval) this.sendPing(live, from, to);
      return false;
    }
    if (now - live.pingAt < cfg.heartbeatInterval) return false;
    live.misses++;
    this.ctx.metrics.heartbeatMisses.labels(peer).inc();
    if (live.misses >= cfg.heartbeatMisses) {
      this.closeByProxy(cfg.heartbeatCloseCode, 'heartbeat_timeout', peer === 'client' ? 'client' : 'server');
      return true;
    }
    this.sendPing(live, from, to);
    return false;
  }

  private sendPing(live: Liveness, from: Pipe, to: Pipe): void {
    from.scanner.matchToken = this.token;
    live.pingQueued = true;
    live.outstanding++;
    // Toward the backend the sidecar speaks as a client, so its frames are masked. The miss
    // clock starts when the ping is written, not when it is queued.
    const placed = to.inject(pingFrame(this.token!, to.fromClient), false, () => {
      live.pingQueued = false;
      live.pingAt = this.ctx.clock.now();
    });
    if (!placed) {
      live.pingQueued = false;
      live.outstanding--;
    }
  }

  // ---- fault injection (proxy/faults) ----

  /** The pipe that carries bytes toward `side`. */
  pipeToward(side: 'client' | 'backend'): Pipe {
    return side === 'client' ? this.s2c : this.c2s;
  }

  /** A fault sends close frames (`text` as their reason) toward one side or both. */
  faultClose(side: 'client' | 'backend' | 'both', code: number, text: string, reason: CloseReason): void {
    if (this.finished || this.closingByProxy) return;
    this.closingByProxy = true;
    this.decide('proxy', code, reason);
    this.span.addEvent('proxy_close', { code, reason });
    if (side !== 'backend' && !this.s2c.inject(closeFrame(code, text, false), true)) this.client.destroy();
    if (side !== 'client' && !this.c2s.inject(closeFrame(code, text, true), true)) this.upstream.destroy();
    this.armDrainTimer();
  }

  /** A fault resets the TCP connection of one side or both, with no close frame (1006). */
  faultReset(side: 'client' | 'backend' | 'both', reason: CloseReason): void {
    if (this.finished) return;
    this.decide('proxy', 1006, reason);
    if (side !== 'backend' && !this.client.destroyed) this.client.resetAndDestroy();
    if (side !== 'client' && !this.upstream.destroyed) this.upstream.resetAndDestroy();
  }

  // ---- closing ----

  /**
   * Records how the connection ended, once: the first event that tells (a close frame, a FIN, an
   * error, the sidecar's own decision) wins; later events change nothing.
   */
  private decide(
    initiator: CloseInitiator,
    code: number,
    reason: CloseReason,
    detail: string | null = null,
  ): void {
    if (this.reason !== null) return;
    this.initiator = initiator;
    this.closeCode = code;
    this.reason = reason;
    this.detail = detail;
  }

  abort(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  /** Closes both sides, delivering what each side already sent (SIGTERM, drain). */
  shutdown(code: number, detail: string | null = null): void {
    this.closeByProxy(code, 'shutdown', undefined, detail);
  }

  /**
   * A close the sidecar decides. A dead side is cut at once and the live one gets a close frame.
   * When both sides are alive, the close frame goes to the client first (after the frame in
   * progress); whatever the client sent until its answering close frame is still relayed to the
   * backend, and the client's close frame reaches the backend last. What is left after the drain
   * timeout is cut.
   */
  closeByProxy(
    code: number,
    reason: CloseReason,
    dead?: 'client' | 'server' | 'client_slow',
    detail: string | null = null,
  ): void {
    if (this.finished || this.closingByProxy) return;
    this.closingByProxy = true;
    this.decide('proxy', code, reason, detail);
    this.span.addEvent('proxy_close', { code, reason });
    if (dead === 'client') this.client.destroy();
    else if (!this.s2c.inject(closeFrame(code, reason, false), true)) this.client.destroy();
    if (dead === 'server') this.upstream.destroy();
    else if (dead !== undefined || this.c2s.scanner.broken) {
      if (!this.c2s.inject(closeFrame(code, reason, true), true)) this.upstream.destroy();
    }
    if (dead === 'client_slow') {
      // A slow client may never read its close frame; give it a moment, then cut it.
      this.client.end();
      this.ctx.clock.after(1000, () => this.client.destroy());
    }
    this.armDrainTimer();
  }

  private armDrainTimer(): void {
    if (this.cancelDrain) return;
    this.cancelDrain = this.ctx.clock.after(this.ctx.config.drainTimeout, () => {
      this.client.destroy();
      this.upstream.destroy();
    });
  }

  /** A FIN from one side (its socket's 'end'). */
  onEnd(fromClient: boolean): void {
    // TCP FIN without a close frame before it: an abnormal close (1006) by that side.
    this.decide(
      fromClient ? 'client' : 'server',
      1006,
      fromClient ? 'client_disconnect' : 'server_disconnect',
    );
    const other = fromClient ? this.upstream : this.client;
    if (!other.destroyed) other.end();
    this.armDrainTimer();
  }

  /** One side's socket failed. */
  onError(fromClient: boolean, err: NodeJS.ErrnoException): void {
    this.decide(
      fromClient ? 'client' : 'server',
      1006,
      fromClient ? 'client_error' : 'server_error',
      err.code ?? 'unknown',
    );
    const other = fromClient ? this.upstream : this.client;
    other.destroy();
  }

  /** One side's socket is closed; once both are, the connection is finished. */
  onClose(fromClient: boolean): void {
    this.ctx.sockets.closed(fromClient ? this.client : this.upstream);
    if (fromClient) this.clientClosed = true;
    else this.upstreamClosed = true;
    this.decide(
      fromClient ? 'client' : 'server',
      1006,
      fromClient ? 'client_disconnect' : 'server_disconnect',
    );
    if (this.clientClosed && this.upstreamClosed) {
      this.finish();
      return;
    }
    const other = fromClient ? this.upstream : this.client;
    if (!other.destroyed) other.end();
    this.armDrainTimer();
  }

  /** Both sockets are closed: count, log and trace the end once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelDrain?.();
    const { ctx } = this;
    this.s2c.leaveBudget();
    ctx.table.remove(this);
    const code = this.closeCode ?? 1006;
    const initiator = this.initiator ?? 'server';
    const durationMs = ctx.clock.now() - this.t0;
    ctx.metrics.closes.labels(closeCodeLabel(code), initiator).inc();
    ctx.metrics.observeConnectionDuration(durationMs / 1000, recordedTraceId(this.span));
    const reason = this.reason ?? 'server_disconnect';
    // A decoder whose session spans transports (engine.io) writes the one line of that session.
    const decoderLogs =
      this.decoder?.ended({
        closeCode: code,
        initiator,
        reason,
        detail: this.detail,
        bytesIn: this.c2s.relayedBytes,
        bytesOut: this.s2c.relayedBytes,
      }) ?? false;
    recordEnding(ctx, {
      transport: 'websocket',
      id: this.id,
      clientId: this.clientId,
      peer: this.peer,
      path: this.path,
      closeCode: code,
      initiator,
      reason,
      detail: this.detail,
      durationMs,
      bytesIn: this.c2s.relayedBytes,
      bytesOut: this.s2c.relayedBytes,
      messagesIn: this.c2s.relayedMessages,
      messagesOut: this.s2c.relayedMessages,
      handshakeMs: this.handshakeMs,
      span: this.span,
      logged: !decoderLogs,
      // Without a decoder the line still says when permessage-deflate was negotiated.
      view: decoderLogs ? null : (this.protocolView() ?? (this.compressed ? { compressed: true } : null)),
    });
    this.resolveDone?.();
  }
}

// ---- socket events: the listeners every connection shares (the socket is `this`) ----

function onRelayDrain(this: Socket): void {
  const c = (this as RelaySocket)[kRelay];
  c.pipeToward(this === c.client ? 'client' : 'backend').onDrain();
}

function onRelayEnd(this: Socket): void {
  const c = (this as RelaySocket)[kRelay];
  c.onEnd(this === c.client);
}

function onRelayError(this: Socket, err: NodeJS.ErrnoException): void {
  const c = (this as RelaySocket)[kRelay];
  c.onError(this === c.client, err);
}

function onRelayClose(this: Socket): void {
  const c = (this as RelaySocket)[kRelay];
  c.onClose(this === c.client);
}
