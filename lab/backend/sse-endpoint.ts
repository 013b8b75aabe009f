// GET /sse?room=<name>: Server-Sent Events. Each broadcast to the room is one event,
// `id: <seq>` + `data: <json>`. A reconnecting client sends Last-Event-ID (header, or the
// `lastEventId` query parameter for clients that cannot set headers) and first gets what it
// missed from the room's history.
//
// Every write goes straight to the socket (no compression, no buffering here); x-accel-buffering
// tells nginx not to buffer either. The stream opens with a comment so a client sees its first
// byte at once and can tell "stream open" from "a hop is holding the response".

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './http-util.js';
import { isValidRoom } from './message.js';
import type { RoomHub } from './room-hub.js';
import type { BackendStats } from './stats.js';

export interface SseEndpointOptions {
  nodeId: string;
  hub: RoomHub;
  stats: BackendStats;
  keepaliveMs: number;
  maxBufferedBytes: number;
}

export interface SseEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void;
  /** Ends every open stream; returns how many. */
  endAll(): number;
}

function lastEventId(req: IncomingMessage, url: URL): number | null {
  const raw = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId');
  if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

export function createSseEndpoint(opts: SseEndpointOptions): SseEndpoint {
  const { hub, stats } = opts;
  const streams = new Set<ServerResponse>();

  return {
    handle(req, res, url) {
      const room = url.searchParams.get('room') || 'lobby';
      if (!isValidRoom(room)) {
        sendError(res, 400, 'SL_LAB_BAD_ROOM', 'room must be a short string');
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`: connected node=${opts.nodeId} room=${room}\n\n`);
      stats.sse.open += 1;
      stats.sse.opened += 1;
      streams.add(res);

      const write = (seq: number, wire: string) => {
        // A reader that stopped draining loses events (it sees the id gap) instead of this
        // process buffering without bound.
        if (res.writableLength > opts.maxBufferedBytes) stats.sse.dropped += 1;
        else res.write(`id: ${seq}\ndata: ${wire}\n\n`);
      };
      const since = lastEventId(req, url);
      if (since !== null) for (const entry of hub.since(room, since)) write(entry.msg.seq, entry.wire);
      const unsubscribe = hub.subscribe(room, (msg, wire) => write(msg.seq, wire));
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), opts.keepaliveMs);

      res.on('close', () => {
        clearInterval(keepalive);
        unsubscribe();
        streams.delete(res);
        stats.sse.open -= 1;
      });
    },
    endAll() {
      const n = streams.size;
      for (const res of streams) res.end();
      return n;
    },
  };
}
