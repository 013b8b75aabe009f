// SSE rung over fetch() streaming (browser-safe; Node 20 has no EventSource).
// "Open" is the first body byte, not the headers: a buffering hop can send 200 + headers and then
// hold every byte, and that must count as blocked. The backend writes a comment at once, so a
// clean path always delivers a first byte. Resumes with Last-Event-ID = the last seq delivered.

import { RealtimeError } from './errors.js';
import { parseText } from './message.js';
import { SseParser } from './sse-parser.js';
import {
  endpointUrl,
  type OpenTransport,
  type TransportContext,
  type TransportHandlers,
} from './transport.js';

export async function openSse(ctx: TransportContext, handlers: TransportHandlers): Promise<OpenTransport> {
  const url = endpointUrl(ctx.baseUrl, ctx.path, { room: ctx.room });
  const abort = new AbortController();
  let closedByUs = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, ctx.connectTimeoutMs);

  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (ctx.lastSeq !== null) headers['last-event-id'] = String(ctx.lastSeq);
  const parser = new SseParser({ onEvent: (ev) => handlers.onMessage(parseText(ev.data)) });

  let reader: ReadableStreamDefaultReader<Uint8Array>;
  let first: Uint8Array;
  try {
    const res = await ctx.fetch(url, { headers, signal: abort.signal, cache: 'no-store' });
    if (!res.ok) throw new RealtimeError('SL_CLIENT_HTTP_STATUS', `SSE ${url} answered ${res.status}`);
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream') || !res.body) {
      throw new RealtimeError(
        'SL_CLIENT_NOT_EVENT_STREAM',
        `SSE ${url} answered "${type}", not text/event-stream`,
      );
    }
    reader = res.body.getReader();
    const r = await reader.read();
    if (r.done) throw new RealtimeError('SL_CLIENT_STREAM_ENDED', `SSE ${url} ended before its first byte`);
    first = r.value;
  } catch (err) {
    clearTimeout(timer);
    abort.abort();
    if (timedOut) {
      throw new RealtimeError(
        'SL_CLIENT_CONNECT_TIMEOUT',
        `no SSE byte from ${url} within ${ctx.connectTimeoutMs} ms`,
      );
    }
    if (err instanceof RealtimeError) throw err;
    throw new RealtimeError('SL_CLIENT_NETWORK', `SSE ${url} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  clearTimeout(timer);

  // Deliver what came with the first byte only after the caller has the transport in hand.
  queueMicrotask(async () => {
    parser.push(first);
    let reason = 'sse stream ended';
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        parser.push(r.value);
      }
    } catch (err) {
      reason = `sse stream failed: ${(err as Error).message}`;
    }
    parser.end();
    // 1006 mirrors what a WebSocket reports for a connection that ended without a close frame.
    if (!closedByUs) handlers.onClose(1006, reason);
  });

  return {
    name: 'sse',
    close() {
      closedByUs = true;
      abort.abort();
    },
  };
}
