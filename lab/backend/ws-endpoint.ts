// GET /ws: the WebSocket endpoint (ws in noServer mode, so the HTTP server owns the upgrade).
//
//   ?room=<name>                 room to receive broadcasts from (default "lobby")
//   ?since=<seq>                 replay buffered broadcasts of the room with a higher seq first
//   ?flood=<bytes/s>&size=<n>    the backend floods this socket (slow-consumer drill)
//
// Frames: {"type":"publish","room"?,"data"} broadcasts to the room on every node; anything else
// (text or binary) is echoed back unchanged, with the same opcode.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { MAX_FLOOD_MESSAGE_BYTES, startFlood } from './flood.js';
import { startHeartbeat } from './heartbeat.js';
import { intParam } from './http-util.js';
import { isValidRoom } from './message.js';
import type { RoomHub } from './room-hub.js';
import type { BackendStats } from './stats.js';

export interface WsEndpointOptions {
  nodeId: string;
  hub: RoomHub;
  stats: BackendStats;
  publish(room: string, data: unknown): Promise<number>;
  perMessageDeflate: boolean;
  heartbeatIntervalMs: number;
  maxBufferedBytes: number;
  maxPayloadBytes: number;
}

export interface WsEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
  /** Closes every socket with this code (a "deploy" in a drill); returns how many. */
  disconnectAll(code: number, reason: string): number;
  /** Closes every socket with 1001, terminating those that did not finish within graceMs. */
  close(graceMs: number): Promise<void>;
}

/** Refuses an upgrade with a plain HTTP answer; the socket never becomes a WebSocket. */
export function rejectUpgrade(socket: Duplex, nodeId: string, status: number, reason: string, text: string) {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `x-backend-node: ${nodeId}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** A text frame that parses as a publish command, or null (then it is echoed). */
function asPublishCommand(data: RawData, isBinary: boolean): { room?: unknown; data: unknown } | null {
  if (isBinary || !Buffer.isBuffer(data) || data[0] !== 0x7b /* { */) return null;
  try {
    const obj = JSON.parse(data.toString('utf8'));
    if (obj && typeof obj === 'object' && obj.type === 'publish') return obj;
  } catch {
    // not JSON: echo
  }
  return null;
}

export function createWsEndpoint(opts: WsEndpointOptions): WsEndpoint {
  const { hub, stats } = opts;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: opts.perMessageDeflate,
    maxPayload: opts.maxPayloadBytes,
  });
  // The 101 carries the node id too, like every other answer of this backend.
  wss.on('headers', (headers) => headers.push(`x-backend-node: ${opts.nodeId}`));
  const heartbeat = startHeartbeat(wss, opts.heartbeatIntervalMs, () => {
    stats.ws.heartbeatTerminated += 1;
  });

  function onConnection(ws: WebSocket, room: string, since: number | null, flood: [number, number] | null) {
    stats.ws.open += 1;
    stats.ws.opened += 1;
    heartbeat.track(ws);
    const send = (wire: string) => {
      // Over the limit the client is not draining: drop rather than let this process grow.
      if (ws.bufferedAmount > opts.maxBufferedBytes) stats.ws.dropped += 1;
      else ws.send(wire);
    };
    if (since !== null) for (const entry of hub.since(room, since)) send(entry.wire);
    const unsubscribe = hub.subscribe(room, (_msg, wire) => send(wire));
    const stopFlood = flood
      ? startFlood(
          ws,
          { bytesPerSecond: flood[0], size: flood[1], maxBufferedBytes: opts.maxBufferedBytes },
          stats.flood,
        )
      : null;
    if (stopFlood) stats.flood.active += 1;

    ws.on('message', (data, isBinary) => {
      const cmd = asPublishCommand(data, isBinary);
      if (!cmd) {
        stats.ws.echoed += 1;
        ws.send(data, { binary: isBinary });
        return;
      }
      const target = cmd.room ?? room;
      if (!isValidRoom(target)) {
        ws.send(
          JSON.stringify({ type: 'error', code: 'SL_LAB_BAD_ROOM', message: 'room must be a short string' }),
        );
        return;
      }
      stats.ws.published += 1;
      opts.publish(target, cmd.data).catch((err: Error & { code?: string }) => {
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(
            JSON.stringify({ type: 'error', code: err.code ?? 'SL_LAB_PUBLISH', message: err.message }),
          );
        }
      });
    });
    ws.on('error', () => {
      // Protocol errors and resets end in 'close' too; nothing else to do here.
    });
    ws.on('close', () => {
      stats.ws.open -= 1;
      stats.ws.closed += 1;
      unsubscribe();
      if (stopFlood) {
        stopFlood();
        stats.flood.active -= 1;
      }
    });
  }

  return {
    handleUpgrade(req, socket, head, url) {
      const room = url.searchParams.get('room') || 'lobby';
      const wantsReplay = url.searchParams.has('since');
      const since = wantsReplay ? intParam(url.searchParams, 'since', 0) : null;
      const rate = intParam(url.searchParams, 'flood', 0);
      const size = intParam(url.searchParams, 'size', 1024);
      if (!isValidRoom(room) || (wantsReplay && since === null)) {
        rejectUpgrade(socket, opts.nodeId, 400, 'Bad Request', 'bad room or since parameter\n');
        return;
      }
      if (rate === null || size === null || size < 1 || size > MAX_FLOOD_MESSAGE_BYTES) {
        rejectUpgrade(
          socket,
          opts.nodeId,
          400,
          'Bad Request',
          `flood must be bytes/s, size 1..${MAX_FLOOD_MESSAGE_BYTES}\n`,
        );
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        onConnection(ws, room, since, rate > 0 ? [rate, size] : null);
      });
    },
    disconnectAll(code, reason) {
      let n = 0;
      for (const ws of wss.clients) {
        ws.close(code, reason);
        n += 1;
      }
      return n;
    },
    async close(graceMs) {
      heartbeat.stop();
      const pending = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(1001, 'server shutting down');
          }),
      );
      const timer = setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
      }, graceMs);
      await Promise.all(pending);
      clearTimeout(timer);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
