// GET /poll?room=&since=<seq>&timeout=<ms>: long-poll.
// Answers at once with the buffered messages newer than `since`; otherwise waits up to `timeout`
// ms for the next broadcast. Without `since` the client starts "from now" (this node's latest
// seq), so a first poll with timeout=0 is a cheap way to learn the cursor.
// Answer: {"messages":[{seq, data, room, origin, node, t, type}], "next": <seq to pass as since>}.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { intParam, sendError, sendJson } from './http-util.js';
import { type ClientMessage, isValidRoom } from './message.js';
import type { RoomHub } from './room-hub.js';
import type { BackendStats } from './stats.js';

export const DEFAULT_POLL_TIMEOUT_MS = 25_000;
export const MAX_POLL_TIMEOUT_MS = 120_000;

export interface LongPollEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void;
  /** Answers every waiting poll now (empty), e.g. at shutdown. */
  releaseAll(): number;
}

export function createLongPollEndpoint(opts: { hub: RoomHub; stats: BackendStats }): LongPollEndpoint {
  const { hub, stats } = opts;
  const waiting = new Set<() => void>();

  return {
    handle(_req, res, url) {
      const room = url.searchParams.get('room') || 'lobby';
      const since = intParam(url.searchParams, 'since', hub.latestSeq(room));
      const timeout = intParam(url.searchParams, 'timeout', DEFAULT_POLL_TIMEOUT_MS);
      if (!isValidRoom(room)) return sendError(res, 400, 'SL_LAB_BAD_ROOM', 'room must be a short string');
      if (since === null)
        return sendError(res, 400, 'SL_LAB_BAD_SINCE', 'since must be a non-negative integer');
      if (timeout === null || timeout > MAX_POLL_TIMEOUT_MS) {
        return sendError(res, 400, 'SL_LAB_BAD_TIMEOUT', `timeout must be 0..${MAX_POLL_TIMEOUT_MS} ms`);
      }
      const answer = (messages: ClientMessage[]) => {
        stats.poll.answered += 1;
        const next = messages.length > 0 ? messages[messages.length - 1]!.seq : since;
        sendJson(res, 200, { messages, next });
      };

      const ready = hub.since(room, since);
      if (ready.length > 0 || timeout === 0) {
        answer(ready.map((e) => e.msg));
        return;
      }

      stats.poll.waiting += 1;
      let done = false;
      const finish = (messages: ClientMessage[]) => {
        if (done) return;
        done = true;
        stats.poll.waiting -= 1;
        clearTimeout(timer);
        unsubscribe();
        waiting.delete(release);
        if (!res.destroyed) answer(messages);
      };
      const release = () => finish([]);
      const unsubscribe = hub.subscribe(room, (msg) => {
        if (msg.seq > since) finish([msg]);
      });
      const timer = setTimeout(release, timeout);
      waiting.add(release);
      // The client gave up (or a proxy cut it): stop waiting for it.
      res.on('close', release);
    },
    releaseAll() {
      const n = waiting.size;
      for (const release of [...waiting]) release();
      return n;
    },
  };
}
