/**
 * An SSE stream or a long-poll request seen through the sidecar, tracked as a live connection
 * from the request until the response ends or the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { recordEnding } from '../connections/ending.js';
import type { LiveConnection } from '../connections/live.js';
import type { SidecarContext } from '../context.js';
import { statusClass } from '../metrics/definitions.js';
import { protocolEnabled } from '../config/sidecar-options.js';
import type { ProtocolView } from '../protocols/decoder.js';
import { SseParser } from '../protocols/sse.js';
import type { CloseReason } from '../metrics/definitions.js';
import { StreamRelay } from './relay.js';

/** A protocol session a stream is one request of (engine.io polling): it writes the log line. */
export interface StreamSession {
  view(): ProtocolView | null;
}

/** Counts SSE events: each blank line (LF LF, CR LF CR LF or CR CR) ends one. Keeps state across chunks. */
export class EventBoundaryCounter {
  events = 0;
  private lineEmpty = true; // at the start of a line that has no characters yet
  private afterCr = false;
  private inEvent = false; // a line of the current event has been seen since the last blank line

  push(chunk: Uint8Array): void {
    this.scan(chunk, 0, chunk.length, false);
  }

  /**
   * Reads chunk[from, to). With `stopAtEvent`, stops just after the blank line that ends an event
   * and returns that position; otherwise (or when no event ends in the range) returns `to`.
   */
  scan(chunk: Uint8Array, from: number, to: number, stopAtEvent: boolean): number {
    for (let i = from; i < to; i++) {
      const b = chunk[i];
      if (b === 0x0a) {
        if (this.afterCr) {
          this.afterCr = false;
          continue; // the LF of a CRLF: the line already ended at the CR
        }
        if (this.endLine() && stopAtEvent) return i + 1;
      } else if (b === 0x0d) {
        this.afterCr = true;
        if (this.endLine() && stopAtEvent) {
          // Take the LF of a CRLF blank line with it, when it is in the range.
          if (i + 1 < to && chunk[i + 1] === 0x0a) {
            this.afterCr = false;
            return i + 2;
          }
          return i + 1;
        }
      } else {
        this.afterCr = false;
        this.lineEmpty = false;
        this.inEvent = true;
      }
    }
    return to;
  }

  /** True between events: nothing of a next event has been seen since the last blank line. */
  get atBoundary(): boolean {
    return this.lineEmpty && !this.inEvent;
  }

  /** Ends a line; true when it was blank, so it ended an event. */
  private endLine(): boolean {
    const blank = this.lineEmpty;
    if (blank) {
      this.events++;
      this.inEvent = false;
    }
    this.lineEmpty = true;
    return blank;
  }
}

export class HttpStream implements LiveConnection {
  readonly startedAt: number;
  readonly done: Promise<void>;
  private readonly t0: number;
  private shuttingDown = false;
  private bytes = 0;
  /** The SSE decoder (by the spec), or without it the blank-line counter; null for long-polls. */
  private readonly counter: SseParser | EventBoundaryCounter | null;
  private readonly sse: SseParser | null;
  private resumed = false;
  private serverEnded = false;
  private finished = false;
  private resolveDone!: () => void;
  private status = 0;
  private session: StreamSession | null = null;
  private endAtBoundary = false;
  /** The body relay the fault API acts on (only with --faults; else the HTTP relay pipes the body). */
  readonly relay: StreamRelay | null;
  /** Set when a fault ended or reset the stream: the reason its log line gives. */
  private faultReason: CloseReason | null = null;

  constructor(
    private readonly ctx: SidecarContext,
    readonly transport: 'sse' | 'longpoll',
    readonly id: string,
    readonly clientId: string,
    readonly peer: string,
    readonly path: string,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const decode = transport === 'sse' && protocolEnabled(ctx.config, 'sse');
    this.sse = decode ? new SseParser((ms) => ctx.metrics.sseRetry.observe(ms / 1000)) : null;
    this.counter = transport === 'sse' ? (this.sse ?? new EventBoundaryCounter()) : null;
    if (this.sse) {
      ctx.metrics.protocolConnections.labels('sse').inc();
      // Last-Event-ID: the client lost this stream and asks to resume after that id.
      if (req.headers['last-event-id'] !== undefined) {
        this.resumed = true;
        ctx.metrics.sseResumed.inc();
      }
    }
    this.t0 = ctx.clock.now();
    this.startedAt = ctx.clock.wall();
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    res.once('close', () => this.finish());
    this.relay = ctx.faults ? new StreamRelay(res) : null;
    // An SSE stream meets the faults once its response head is set and its body flows.
    if (this.relay && transport === 'sse') this.relay.onAttach = () => ctx.faults?.onOpen(this);
  }

  /** Taps the backend's response body. */
  observe(proxyRes: IncomingMessage): void {
    this.status = proxyRes.statusCode ?? 0;
    proxyRes.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (this.counter) {
        const before = this.counter.events;
        const comments = this.sse?.comments ?? 0;
        this.counter.push(chunk);
        const t = this.ctx.metrics.tally;
        t.sseEventsSent += this.counter.events - before;
        t.sseBytesSent += chunk.length;
        if (this.sse && this.sse.comments !== comments)
          this.ctx.metrics.sseComments.inc(this.sse.comments - comments);
        if (this.endAtBoundary && this.counter.atBoundary) this.endWithRetry();
      }
    });
    proxyRes.once('end', () => {
      this.serverEnded = true;
    });
  }

  /** This request is one of a protocol session's: no log line of its own. */
  belongTo(session: StreamSession): void {
    this.session = session;
  }

  protocolView(): ProtocolView | null {
    if (this.sse) return { protocol: 'sse' };
    return this.session?.view() ?? null;
  }

  bytesIn(): number {
    return this.req.socket.bytesRead;
  }
  bytesOut(): number {
    return this.bytes;
  }
  messagesIn(): number {
    return 0;
  }
  messagesOut(): number {
    return this.counter?.events ?? 0;
  }
  bufferedBytes(): number {
    return this.res.writableLength;
  }

  /**
   * Ends the stream on purpose (drain, shutdown). An SSE stream gets a `retry:` field at an event
   * boundary and ends cleanly, so an EventSource reconnects (elsewhere) after that delay; mid-event
   * it ends at the next boundary. A long-poll not yet answered gets 503 with Retry-After.
   */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.res.writableEnded) return;
    if (!this.res.headersSent) {
      const retry = String(this.ctx.drain.retryAfterSeconds);
      this.res.writeHead(503, { 'retry-after': retry, 'content-length': 0, connection: 'close' });
      this.res.end();
      return;
    }
    if (this.counter && !this.counter.atBoundary) {
      this.endAtBoundary = true;
      return;
    }
    this.endWithRetry();
  }

  private endWithRetry(): void {
    if (this.res.writableEnded) return;
    if (this.counter) this.res.write(`retry: ${this.ctx.config.drainRetryAfter}\n\n`);
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
  }

  // ---- fault injection (proxy/faults) ----

  /** A fault may act on it: an SSE stream once its body flows, a long-poll from its request on. */
  get faultable(): boolean {
    return (
      this.relay !== null && !this.finished && (this.transport === 'longpoll' || this.relay.src !== null)
    );
  }

  /** True between two SSE events (always true for a long-poll). */
  get atEventBoundary(): boolean {
    return this.counter?.atBoundary ?? true;
  }

  /**
   * A fault shapes the body: an SSE stream's head goes out now, so the client sees the stream open.
   * The relay has written the head with writeHead() by then (headersSent is true) but it is only
   * put on the wire with the first body bytes; flushHeaders() sends it (a no-op once sent).
   */
  shapingStarts(): void {
    if (this.transport === 'sse' && !this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  }

  /**
   * A fault ends the stream: an SSE stream ends cleanly where it is (the last chunk, as if the
   * server had ended it); a long-poll's connection is closed (FIN) with no more of the answer.
   * The backend's leg is dropped either way.
   */
  faultEnd(reason: CloseReason): void {
    if (this.finished || this.faultReason !== null) return;
    this.faultReason = reason;
    this.shuttingDown = true;
    this.relay?.seal();
    if (this.transport === 'sse' && !this.res.writableEnded) this.res.end();
    else this.res.destroy();
  }

  /** A fault resets the client's TCP connection (RST) and drops the backend's leg. */
  faultReset(reason: CloseReason): void {
    if (this.finished) return;
    this.faultReason ??= reason;
    this.shuttingDown = true;
    this.relay?.seal();
    const socket = this.res.socket;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
    else this.res.destroy();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const { metrics, table } = this.ctx;
    table.remove(this);
    const seconds = (this.ctx.clock.now() - this.t0) / 1000;
    const status = this.status || this.res.statusCode;
    if (this.transport === 'sse') metrics.sseStreamDuration.observe(seconds);
    else {
      metrics.longpollWait.observe(seconds);
      metrics.longpollResponses.labels(statusClass(status)).inc();
    }
    const byProxy = this.faultReason !== null || (this.shuttingDown && !this.serverEnded);
    const initiator = byProxy ? 'proxy' : this.serverEnded || this.res.writableFinished ? 'server' : 'client';
    if (this.session) {
      this.resolveDone();
      return;
    }
    recordEnding(this.ctx, {
      transport: this.transport,
      id: this.id,
      clientId: this.clientId,
      peer: this.peer,
      path: this.path,
      closeCode: null,
      initiator,
      reason:
        this.faultReason ??
        (byProxy ? 'shutdown' : initiator === 'server' ? 'server_end' : 'client_disconnect'),
      detail: null,
      durationMs: seconds * 1000,
      bytesIn: this.bytesIn(),
      bytesOut: this.bytes,
      messagesIn: 0,
      messagesOut: this.counter?.events ?? 0,
      status,
      view: this.sse
        ? {
            protocol: 'sse' as const,
            comments: this.sse.comments,
            resumed: this.resumed,
            ...(this.sse.retryMs >= 0 ? { retry_ms: this.sse.retryMs } : {}),
          }
        : null,
    });
    this.resolveDone();
  }
}
