// The fallback-ladder client (browser-safe: no node: imports; global fetch; WebSocket from
// globalThis or injected, e.g. the `ws` package in Node 20).
//
// connect() walks the ladder (default websocket -> sse -> longpoll). Each rung gets
// connectTimeoutMs to prove itself (101 / first SSE byte / first poll answer); a refusal or a
// timeout drops to the next rung at once. If every rung fails, the whole ladder is retried after a
// backoff delay, until maxRetries. When an open transport is lost, the client waits one backoff
// delay (jittered, so a crowd of clients does not return in lockstep) and climbs the ladder again
// from the top: the network that blocked WebSocket a minute ago may not block it now.
//
// Broadcasts carry a per-room seq; the client remembers the last one and resumes after it
// (WebSocket `since`, SSE Last-Event-ID, poll `since`), dropping any duplicate a replay brings.
// This relies on seqs only growing, which the backend keeps true across a Redis restart.

import { type BackoffOptions, createBackoff } from './backoff.js';
import { RealtimeError } from './errors.js';
import { openLongPoll } from './longpoll-transport.js';
import { type RealtimeMessage, type TransportName, toRealtimeMessage } from './message.js';
import { openSse } from './sse-transport.js';
import {
  endpointUrl,
  type FetchLike,
  type OpenTransport,
  type OpenTransportFn,
  type TransportContext,
  type TransportHandlers,
  type WebSocketConstructor,
} from './transport.js';
import { openWebSocket } from './ws-transport.js';

export type { RealtimeMessage, TransportName } from './message.js';
export { RealtimeError } from './errors.js';

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface RealtimePaths {
  ws: string;
  sse: string;
  poll: string;
  publish: string;
}

export interface RealtimeClientOptions {
  /** Where the backend (or the proxy in front of it) answers, e.g. http://127.0.0.1:3001. */
  baseUrl: string;
  room?: string;
  paths?: Partial<RealtimePaths>;
  /** The ladder, tried in this order (default websocket, sse, longpoll). */
  transports?: TransportName[];
  /** Time a rung gets to prove itself before the client drops to the next one (default 5000). */
  connectTimeoutMs?: number;
  /** How long the server may hold each long-poll (default 25000). */
  pollTimeoutMs?: number;
  /** Reconnect delays (default full jitter, base 500 ms, cap 30 s, 10 retries). */
  backoff?: Partial<BackoffOptions>;
  /** Shorthand for backoff.maxRetries. */
  maxRetries?: number;
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  onMessage?(msg: RealtimeMessage): void;
  /** A transport opened (the first time, and after every reconnect). */
  onTransport?(name: TransportName): void;
  onState?(state: ClientState): void;
  /** An open transport was lost: WebSocket close code, or 1006 for an SSE/poll stream that ended. */
  onClose?(code: number, reason: string): void;
  /** A rung failed (with its name), or the client gave up (without). */
  onError?(err: RealtimeError, transport?: TransportName): void;
}

/** The client's reconnect delays unless told otherwise: full jitter, base 500 ms, cap 30 s, 10 retries. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  strategy: 'full',
  baseMs: 500,
  capMs: 30_000,
  maxRetries: 10,
};

const DEFAULT_PATHS: RealtimePaths = { ws: '/ws', sse: '/sse', poll: '/poll', publish: '/publish' };
const DEFAULT_ORDER: TransportName[] = ['websocket', 'sse', 'longpoll'];
const OPENERS: Record<TransportName, OpenTransportFn> = {
  websocket: openWebSocket,
  sse: openSse,
  longpoll: openLongPoll,
};

interface Waiter {
  resolve(name: TransportName): void;
  reject(err: RealtimeError): void;
}

export class RealtimeClient {
  readonly room: string;
  readonly #opts: RealtimeClientOptions;
  readonly #paths: RealtimePaths;
  readonly #order: TransportName[];
  readonly #backoff;
  readonly #fetch: FetchLike;
  #state: ClientState = 'idle';
  #active: OpenTransport | null = null;
  #lastSeq: number | null = null;
  // Bumped whenever the current attempt or transport stops mattering (lost, closed): callbacks
  // from an older generation are ignored instead of racing the new one.
  #generation = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Waiter[] = [];

  constructor(opts: RealtimeClientOptions) {
    this.#opts = opts;
    this.room = opts.room ?? 'lobby';
    this.#paths = { ...DEFAULT_PATHS, ...opts.paths };
    this.#order = opts.transports ?? DEFAULT_ORDER;
    for (const name of this.#order) {
      if (!(name in OPENERS))
        throw new TypeError(`unknown transport "${name}" (use ${DEFAULT_ORDER.join(', ')})`);
    }
    if (this.#order.length === 0) throw new TypeError('transports must name at least one transport');
    this.#backoff = createBackoff({
      ...DEFAULT_BACKOFF,
      ...opts.backoff,
      ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
    });
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The transport in use, or null while not connected. */
  get transport(): TransportName | null {
    return this.#active?.name ?? null;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The seq of the last broadcast delivered (null before the first). */
  get lastSeq(): number | null {
    return this.#lastSeq;
  }

  /** Resolves with the transport once one is open; rejects with SL_CLIENT_GAVE_UP or SL_CLIENT_CLOSED. */
  connect(): Promise<TransportName> {
    if (this.#state === 'closed')
      return Promise.reject(new RealtimeError('SL_CLIENT_CLOSED', 'client is closed'));
    if (this.#active) return Promise.resolve(this.#active.name);
    const promise = new Promise<TransportName>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === 'idle') void this.#climb();
    return promise;
  }

  /** Stops for good: closes the transport, cancels any pending retry. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#generation += 1;
    clearTimeout(this.#retryTimer);
    this.#active?.close();
    this.#active = null;
    this.#setState('closed');
    this.#settle(new RealtimeError('SL_CLIENT_CLOSED', 'client closed'));
  }

  /** Publishes to the room: over the WebSocket when that is the transport, else POST /publish. */
  async send(data: unknown): Promise<void> {
    if (this.#state === 'closed') throw new RealtimeError('SL_CLIENT_CLOSED', 'client is closed');
    const t = this.#active;
    if (t?.send) {
      t.send(JSON.stringify({ type: 'publish', room: this.room, data }));
      return;
    }
    const url = endpointUrl(this.#opts.baseUrl, this.#paths.publish, {});
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: this.room, data }),
      });
    } catch (err) {
      throw new RealtimeError('SL_CLIENT_NETWORK', `publish to ${url} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await res.arrayBuffer().catch(() => {}); // drain, so the connection can be reused
    if (!res.ok) throw new RealtimeError('SL_CLIENT_HTTP_STATUS', `publish to ${url} answered ${res.status}`);
  }

  #context(name: TransportName): TransportContext {
    const path = name === 'websocket' ? this.#paths.ws : name === 'sse' ? this.#paths.sse : this.#paths.poll;
    return {
      baseUrl: this.#opts.baseUrl,
      path,
      room: this.room,
      lastSeq: this.#lastSeq,
      connectTimeoutMs: this.#opts.connectTimeoutMs ?? 5000,
      pollTimeoutMs: this.#opts.pollTimeoutMs ?? 25_000,
      WebSocket: this.#opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
      fetch: this.#fetch,
    };
  }

  async #climb(): Promise<void> {
    const gen = this.#generation;
    this.#setState('connecting');
    for (const name of this.#order) {
      // Messages or a close may arrive between "open" and the moment we adopt the transport;
      // hold them so onTransport always comes first.
      const early = { adopted: false, messages: [] as unknown[], closed: null as [number, string] | null };
      const handlers: TransportHandlers = {
        onMessage: (value) => {
          if (gen !== this.#generation) return;
          if (early.adopted) this.#deliver(value, name);
          else early.messages.push(value);
        },
        onClose: (code, reason) => {
          if (gen !== this.#generation) return;
          if (early.adopted) this.#lost(code, reason);
          else early.closed = [code, reason];
        },
      };
      let transport: OpenTransport;
      try {
        transport = await OPENERS[name](this.#context(name), handlers);
      } catch (err) {
        if (gen !== this.#generation) return;
        this.#opts.onError?.(err as RealtimeError, name);
        continue;
      }
      if (gen !== this.#generation) {
        transport.close();
        return;
      }
      this.#active = transport;
      early.adopted = true;
      this.#backoff.reset();
      this.#setState('open');
      this.#opts.onTransport?.(name);
      this.#settle(name);
      for (const value of early.messages) this.#deliver(value, name);
      if (early.closed) this.#lost(...early.closed);
      return;
    }
    this.#retryLater();
  }

  #lost(code: number, reason: string): void {
    this.#generation += 1;
    this.#active = null;
    this.#opts.onClose?.(code, reason);
    this.#retryLater();
  }

  #retryLater(): void {
    const delay = this.#backoff.next();
    if (delay === null) {
      const err = new RealtimeError(
        'SL_CLIENT_GAVE_UP',
        `no transport of ${this.#order.join(', ')} connected; gave up`,
      );
      this.#setState('closed');
      this.#opts.onError?.(err);
      this.#settle(err);
      return;
    }
    this.#setState('reconnecting');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#climb();
    }, delay);
  }

  #deliver(value: unknown, transport: TransportName): void {
    const msg = toRealtimeMessage(value, transport);
    if (msg.seq !== null) {
      if (this.#lastSeq !== null && msg.seq <= this.#lastSeq) return; // replayed duplicate
      this.#lastSeq = msg.seq;
    }
    this.#opts.onMessage?.(msg);
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#opts.onState?.(state);
  }

  #settle(result: TransportName | RealtimeError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (typeof result === 'string') w.resolve(result);
      else w.reject(result);
    }
  }
}
