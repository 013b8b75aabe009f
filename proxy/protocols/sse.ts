/**
 * Server-Sent Events read as the HTML standard's event-stream parser reads them, one byte at a
 * time across chunks, keeping only a few numbers:
 * - a line is ended by CRLF, LF or CR; a leading BOM is ignored;
 * - a line starting with ":" is a comment (what keep-alives like sse-starlette's ": ping" are);
 * - a blank line dispatches an event only when the block had a data field (an empty `data:` counts);
 *   a block of comments, ids or retries alone dispatches nothing;
 * - `retry:` with only ASCII digits sets the reconnection time; other values are ignored.
 */

enum State {
  LineStart,
  Comment,
  Name,
  SkipSpace,
  Value,
}

enum Field {
  Other,
  Data,
  Retry,
}

const DATA = [0x64, 0x61, 0x74, 0x61]; // "data"
const RETRY = [0x72, 0x65, 0x74, 0x72, 0x79]; // "retry"
const BOM = [0xef, 0xbb, 0xbf];

export class SseParser {
  /** Events dispatched. */
  events = 0;
  /** Comment lines. */
  comments = 0;
  /** The last valid retry: value, in ms (-1 before any). */
  retryMs = -1;

  private state = State.LineStart;
  private afterCr = false;
  private atStreamStart = true;
  private bomHave = 0;
  private hasData = false;
  // The field name so far, matched against "data" and "retry" as it comes.
  private nameLen = 0;
  private maybeData = true;
  private maybeRetry = true;
  private field: Field = Field.Other;
  private retryValue = 0;
  private retryDigits = true;

  constructor(private readonly onRetry: (ms: number) => void = () => {}) {}

  /**
   * True between events: at the start of a line, with no data field waiting for its blank line,
   * so a `retry:` field and a blank line written now cannot dispatch half an event.
   */
  get atBoundary(): boolean {
    return this.state === State.LineStart && !this.hasData;
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.atStreamStart) {
        // UTF-8 BOM: EF BB BF, ignored once at the very start.
        if (b === BOM[this.bomHave]) {
          if (++this.bomHave === 3) this.atStreamStart = false;
          continue;
        }
        this.atStreamStart = false;
      }
      if (b === 0x0a && this.afterCr) {
        this.afterCr = false; // the LF of a CRLF: the line ended at the CR
        continue;
      }
      this.afterCr = b === 0x0d;
      if (b === 0x0a || b === 0x0d) {
        this.endLine();
        continue;
      }
      this.byte(b);
    }
  }

  private byte(b: number): void {
    switch (this.state) {
      case State.LineStart:
        if (b === 0x3a) {
          this.state = State.Comment;
          this.comments++;
          return;
        }
        this.state = State.Name;
        this.nameLen = 0;
        this.maybeData = true;
        this.maybeRetry = true;
        this.nameByte(b);
        return;
      case State.Name:
        if (b === 0x3a) {
          this.field = this.fieldOf();
          this.state = State.SkipSpace;
          this.retryValue = 0;
          this.retryDigits = true;
          return;
        }
        this.nameByte(b);
        return;
      case State.SkipSpace:
        this.state = State.Value;
        if (b === 0x20) return;
        this.valueByte(b);
        return;
      case State.Value:
        this.valueByte(b);
        return;
      default:
        return; // comment text
    }
  }

  private nameByte(b: number): void {
    const n = this.nameLen++;
    if (this.maybeData && DATA[n] !== b) this.maybeData = false;
    if (this.maybeRetry && RETRY[n] !== b) this.maybeRetry = false;
  }

  private fieldOf(): Field {
    if (this.maybeData && this.nameLen === DATA.length) return Field.Data;
    if (this.maybeRetry && this.nameLen === RETRY.length) return Field.Retry;
    return Field.Other;
  }

  private valueByte(b: number): void {
    if (this.field !== Field.Retry) return;
    if (b >= 0x30 && b <= 0x39 && this.retryValue < 1e12) this.retryValue = this.retryValue * 10 + (b - 0x30);
    else this.retryDigits = false;
  }

  private endLine(): void {
    switch (this.state) {
      case State.LineStart:
        // A blank line: dispatch when the block had data.
        if (this.hasData) this.events++;
        this.hasData = false;
        break;
      case State.Name:
        // A line with no colon: the whole line is the field name, the value is empty.
        this.field = this.fieldOf();
        this.retryDigits = false;
        this.retryValue = 0;
        this.fieldEnded(true);
        break;
      case State.SkipSpace:
      case State.Value:
        this.fieldEnded(this.state === State.SkipSpace);
        break;
      default:
        break;
    }
    this.state = State.LineStart;
  }

  private fieldEnded(emptyValue: boolean): void {
    if (this.field === Field.Data) this.hasData = true;
    else if (this.field === Field.Retry && this.retryDigits && !emptyValue) {
      this.retryMs = this.retryValue;
      this.onRetry(this.retryValue);
    }
  }
}
