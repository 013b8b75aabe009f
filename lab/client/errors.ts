// Coded errors of the realtime client (browser-safe).

export type RealtimeErrorCode =
  | 'SL_CLIENT_CONNECT_TIMEOUT' // no 101 / first SSE byte / first poll answer within connectTimeoutMs
  | 'SL_CLIENT_NO_WEBSOCKET' // no WebSocket constructor in this runtime and none injected
  | 'SL_CLIENT_WS_REFUSED' // the WebSocket closed or errored before opening (e.g. a 426 from a hop)
  | 'SL_CLIENT_HTTP_STATUS' // SSE, poll or publish answered with a non-2xx status
  | 'SL_CLIENT_NOT_EVENT_STREAM' // the SSE answer was not text/event-stream (captive portal, error page)
  | 'SL_CLIENT_STREAM_ENDED' // the SSE stream ended before its first byte
  | 'SL_CLIENT_NETWORK' // fetch failed
  | 'SL_CLIENT_GAVE_UP' // every rung failed maxRetries times in a row
  | 'SL_CLIENT_CLOSED'; // close() was called

export class RealtimeError extends Error {
  readonly code: RealtimeErrorCode;
  constructor(code: RealtimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealtimeError';
    this.code = code;
  }
}
