// What a transport rung looks like to the realtime client (browser-safe).
// A rung's open function resolves once the transport is usable (101 / first SSE byte / first
// poll answer) within connectTimeoutMs and rejects otherwise; after that it reports messages and,
// once, the close.

import type { TransportName } from './message.js';

/**
 * The part of a WebSocket the client uses: browsers' WebSocket and the `ws` package both fit.
 * Handler parameters are typed `never` so either implementation's event types are accepted.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TransportContext {
  baseUrl: string;
  path: string;
  room: string;
  /** The last seq delivered, so the transport can resume after it (null: start from now). */
  lastSeq: number | null;
  connectTimeoutMs: number;
  pollTimeoutMs: number;
  WebSocket: WebSocketConstructor | undefined;
  fetch: FetchLike;
}

export interface TransportHandlers {
  /** A parsed frame or event: a backend envelope or any other value. */
  onMessage(value: unknown): void;
  /** The open transport ended (not called for close() by the client itself). */
  onClose(code: number, reason: string): void;
}

export interface OpenTransport {
  readonly name: TransportName;
  /** Only WebSocket can send upstream on the same connection. */
  send?(text: string): void;
  close(): void;
}

export type OpenTransportFn = (ctx: TransportContext, handlers: TransportHandlers) => Promise<OpenTransport>;

/** baseUrl + path + query, tolerant of a trailing slash on baseUrl. */
export function endpointUrl(
  baseUrl: string,
  path: string,
  query: Record<string, string | number | null>,
): string {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [k, v] of Object.entries(query)) if (v !== null) url.searchParams.set(k, String(v));
  return url.toString();
}

/** Rejects with `err` if `ms` pass first; the timer is always cleared. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
