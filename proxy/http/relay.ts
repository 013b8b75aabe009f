/**
 * The relay of an SSE stream's or a long-poll's response body while the fault API is on
 * (--faults). Without it the HTTP relay pipes the backend's response into the client's; with it
 * the HTTP relay hands the backend's response to this one (attach), so a fault can install a
 * shaper on the body, or end or reset the stream, at any moment of its life.
 *
 * With no fault installed a chunk goes straight to `res.write`, with the same back-pressure as
 * a pipe (pause the backend's response until the client's side drains), and nothing is allocated.
 * The backend's end goes through the shaper too (as the END marker), so an end never overtakes
 * bytes that a fault still holds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PipeShaper } from '../ws/pipe.js';

/** Pushed through a shaper when the backend's response ended: written out, it ends the client's. */
export const END = Buffer.alloc(0);

export class StreamRelay {
  /** Fault hook: when set, every chunk toward the client goes through it. */
  shaper: PipeShaper | null = null;
  /** The backend's response, once it is there. */
  src: IncomingMessage | null = null;
  /** Set once a fault ended or reset the stream: what still comes from the backend is dropped. */
  sealed = false;
  /** Called once the body flows through the relay. */
  onAttach: (() => void) | null = null;
  private waitingDrain = false;
  private held = false;

  constructor(readonly dst: ServerResponse) {}

  /** The backend's response arrived: its body flows through here (the 'data' listener starts it). */
  attach(src: IncomingMessage): void {
    this.src = src;
    src.on('data', this.onData);
    src.once('end', this.onEnd);
    this.onAttach?.();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.sealed) return;
    if (this.shaper !== null) this.shaper.push(chunk);
    else this.writeOut(chunk);
  };

  private readonly onEnd = (): void => {
    if (this.sealed) return;
    if (this.shaper !== null) this.shaper.push(END);
    else this.writeOut(END);
  };

  /** Writes toward the client with back-pressure; END ends the client's response. */
  writeOut(buf: Buffer): void {
    if (this.dst.destroyed || this.dst.writableEnded) return;
    if (buf === END) {
      this.dst.end();
      return;
    }
    if (!this.dst.write(buf) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.src?.pause();
      this.dst.once('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    if (!this.held) this.src?.resume();
  };

  /** Pauses the backend's response (a fault holds it) or lets it flow again unless the client must drain. */
  holdSource(on: boolean): void {
    this.held = on;
    if (on) this.src?.pause();
    else if (!this.waitingDrain) this.src?.resume();
  }

  /** Stops relaying (the stream was ended or reset on purpose) and drops the backend's leg. */
  seal(): void {
    this.sealed = true;
    this.src?.destroy();
  }
}
