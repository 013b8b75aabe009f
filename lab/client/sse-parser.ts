// Incremental text/event-stream parser (the WHATWG "event stream interpretation").
// Browser-safe. Node 20 has no EventSource, so the realtime client reads SSE with fetch() and
// feeds the body here chunk by chunk; a chunk may end anywhere: inside a field, inside a UTF-8
// sequence, or between the CR and LF of a CRLF.

export interface SseEvent {
  /** The `event:` field, or "message" when none was given. */
  type: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last event id seen on this stream so far (it persists across events, as per spec). */
  id: string;
}

export interface SseParserHandlers {
  onEvent(event: SseEvent): void;
  /** A line starting with ":" (text after the colon); servers use them as keepalives. */
  onComment?(text: string): void;
  /** A valid `retry:` field: the server's suggested reconnection delay in ms. */
  onRetry?(ms: number): void;
}

const LINE_END = /\r\n|\r|\n/g;

export class SseParser {
  #handlers: SseParserHandlers;
  #decoder = new TextDecoder('utf-8');
  #line = ''; // the incomplete line carried over from the previous chunk
  #sawCR = false; // previous chunk ended in CR: a leading LF in the next chunk belongs to it
  #atStart = true; // a UTF-8 BOM is only skipped at the very start of the stream
  #data = '';
  #hasData = false;
  #type = '';
  #lastId = '';

  constructor(handlers: SseParserHandlers) {
    this.#handlers = handlers;
  }

  get lastEventId(): string {
    return this.#lastId;
  }

  /** Feeds bytes (decoded as UTF-8, streaming) or already decoded text. */
  push(chunk: string | Uint8Array): void {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (text.length === 0) return;
    if (this.#atStart) {
      this.#atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let pos = 0;
    if (this.#sawCR && text.charCodeAt(0) === 0x0a) pos = 1;
    this.#sawCR = false;
    LINE_END.lastIndex = pos;
    for (let m = LINE_END.exec(text); m !== null; m = LINE_END.exec(text)) {
      const line = this.#line + text.slice(pos, m.index);
      this.#line = '';
      pos = m.index + m[0].length;
      if (m[0] === '\r' && pos === text.length) this.#sawCR = true;
      this.#processLine(line);
    }
    this.#line += text.slice(pos);
  }

  /** The stream ended: an event without its closing blank line is discarded, as per spec. */
  end(): void {
    this.#decoder.decode();
    this.#line = '';
    this.#sawCR = false;
    this.#data = '';
    this.#hasData = false;
    this.#type = '';
  }

  #processLine(line: string): void {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* : */) {
      this.#handlers.onComment?.(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon !== -1) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    }
    switch (field) {
      case 'data':
        this.#data = this.#hasData ? `${this.#data}\n${value}` : value;
        this.#hasData = true;
        break;
      case 'event':
        this.#type = value;
        break;
      case 'id':
        // An id containing NUL is ignored entirely (spec), so it cannot poison Last-Event-ID.
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#handlers.onRetry?.(Number(value));
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  #dispatch(): void {
    const hasData = this.#hasData;
    const event: SseEvent = { type: this.#type || 'message', data: this.#data, id: this.#lastId };
    this.#data = '';
    this.#hasData = false;
    this.#type = '';
    // A block with no data lines dispatches nothing (but an id in it still took effect).
    if (hasData) this.#handlers.onEvent(event);
  }
}
