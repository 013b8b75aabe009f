// Long-poll rung (browser-safe): plain GETs, so it works through anything that passes HTTP.
// "Open" is the answer to a first poll with timeout=0 (from lastSeq, so it also returns what was
// missed). Then one poll at a time, each waiting up to pollTimeoutMs on the server; a failed poll
// ends the transport and the client reconnects through the ladder.

import { RealtimeError } from './errors.js';
import {
  endpointUrl,
  type OpenTransport,
  type TransportContext,
  type TransportHandlers,
} from './transport.js';

interface PollAnswer {
  messages: unknown[];
  next: number;
}

export async function openLongPoll(
  ctx: TransportContext,
  handlers: TransportHandlers,
): Promise<OpenTransport> {
  let current: AbortController | null = null; // the poll in flight, so close() can cancel it
  let closedByUs = false;

  async function poll(since: number | null, timeoutMs: number, deadlineMs: number): Promise<PollAnswer> {
    const url = endpointUrl(ctx.baseUrl, ctx.path, { room: ctx.room, since, timeout: timeoutMs });
    const abort = new AbortController();
    current = abort;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, deadlineMs);
    try {
      const res = await ctx.fetch(url, { signal: abort.signal, cache: 'no-store' });
      if (!res.ok) throw new RealtimeError('SL_CLIENT_HTTP_STATUS', `poll ${url} answered ${res.status}`);
      const body = (await res.json()) as PollAnswer;
      if (!Array.isArray(body.messages) || typeof body.next !== 'number') {
        throw new RealtimeError('SL_CLIENT_HTTP_STATUS', `poll ${url} answered an unexpected body`);
      }
      return body;
    } catch (err) {
      if (timedOut)
        throw new RealtimeError(
          'SL_CLIENT_CONNECT_TIMEOUT',
          `no poll answer from ${url} within ${deadlineMs} ms`,
        );
      if (err instanceof RealtimeError) throw err;
      throw new RealtimeError('SL_CLIENT_NETWORK', `poll ${url} failed: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  const first = await poll(ctx.lastSeq, 0, ctx.connectTimeoutMs);
  let cursor = first.next;

  queueMicrotask(async () => {
    for (const m of first.messages) handlers.onMessage(m);
    while (!closedByUs) {
      let answer: PollAnswer;
      try {
        // The server may legitimately hold the poll for pollTimeoutMs; allow that plus slack.
        answer = await poll(cursor, ctx.pollTimeoutMs, ctx.pollTimeoutMs + ctx.connectTimeoutMs);
      } catch (err) {
        if (!closedByUs) handlers.onClose(1006, (err as Error).message);
        return;
      }
      cursor = answer.next;
      for (const m of answer.messages) {
        if (closedByUs) return;
        handlers.onMessage(m);
      }
    }
  });

  return {
    name: 'longpoll',
    close() {
      closedByUs = true;
      current?.abort();
    },
  };
}
