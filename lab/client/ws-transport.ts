// WebSocket rung (browser-safe). Opens `<ws path>?room=&since=`; "open" is the 101.
// A hop that strips Upgrade makes the backend answer 426, which a WebSocket only reports as an
// error + close 1006 before open: the rung fails fast. A hop that holds the request fails on
// connectTimeoutMs.

import { RealtimeError } from './errors.js';
import { parseText } from './message.js';
import {
  endpointUrl,
  type OpenTransport,
  type TransportContext,
  type TransportHandlers,
} from './transport.js';

interface CloseEventLike {
  code: number;
  reason: string;
}

export function openWebSocket(ctx: TransportContext, handlers: TransportHandlers): Promise<OpenTransport> {
  const Ctor = ctx.WebSocket;
  if (!Ctor) {
    return Promise.reject(
      new RealtimeError('SL_CLIENT_NO_WEBSOCKET', 'no WebSocket in this runtime; inject one'),
    );
  }
  const url = endpointUrl(ctx.baseUrl, ctx.path, { room: ctx.room, since: ctx.lastSeq }).replace(
    /^http/,
    'ws',
  );

  return new Promise((resolve, reject) => {
    let opened = false;
    let closedByUs = false;
    let settled = false;
    const ws = new Ctor(url);
    ws.binaryType = 'arraybuffer';
    const fail = (err: RealtimeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => {
      fail(
        new RealtimeError(
          'SL_CLIENT_CONNECT_TIMEOUT',
          `no 101 from ${url} within ${ctx.connectTimeoutMs} ms`,
        ),
      );
      ws.close();
    }, ctx.connectTimeoutMs);

    ws.onopen = () => {
      if (settled) return; // timed out just before
      opened = true;
      settled = true;
      clearTimeout(timer);
      resolve({
        name: 'websocket',
        send: (text) => ws.send(text),
        close: () => {
          closedByUs = true;
          ws.close(1000, 'client closed');
        },
      });
    };
    ws.onmessage = (ev: { data: unknown }) => {
      handlers.onMessage(typeof ev.data === 'string' ? parseText(ev.data) : ev.data);
    };
    ws.onerror = () => {
      if (!opened)
        fail(new RealtimeError('SL_CLIENT_WS_REFUSED', `WebSocket to ${url} failed before opening`));
    };
    ws.onclose = (ev: CloseEventLike) => {
      if (!opened) {
        fail(
          new RealtimeError('SL_CLIENT_WS_REFUSED', `WebSocket to ${url} closed before opening (${ev.code})`),
        );
      } else if (!closedByUs) {
        handlers.onClose(ev.code, ev.reason);
      }
    };
  });
}
