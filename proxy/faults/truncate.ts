/**
 * The truncate fault: at the next frame that starts in its direction, only the first half of the
 * frame's bytes in that chunk (at least one byte, never the whole frame) goes out; once they are
 * written (and 50 ms later), `onCut` resets the connection. Until the relayed stream sits at a frame boundary, bytes
 * pass unchanged, so the cut always falls inside a frame.
 */
import { FrameScanner } from '../ws/frame-scanner.js';
import type { Pipe, PipeShaper } from '../ws/pipe.js';

const CUT_GAP_MS = 50;

export class TruncateShaper implements PipeShaper {
  private armed: boolean;
  private cut = false;
  /** Bytes of the truncated frame that went out, once cut. */
  sentOfFrame = -1;

  constructor(
    private readonly pipe: Pipe,
    private readonly onCut: () => void,
  ) {
    this.armed = pipe.scanner.atBoundary;
  }

  push(buf: Buffer): void {
    if (this.cut) return;
    if (!this.armed) {
      this.pipe.writeOut(buf);
      // The pipe's scanner has read up to the end of `buf`: armed once that is between frames.
      this.armed = this.pipe.scanner.atBoundary;
      return;
    }
    const sc = new FrameScanner();
    sc.allowRsv1 = this.pipe.scanner.allowRsv1;
    let pos = 0;
    do pos = sc.step(buf, pos, buf.length);
    while (!sc.atBoundary && pos < buf.length && !sc.broken);
    const n = Math.max(1, Math.floor(pos / 2));
    this.cut = true;
    this.sentOfFrame = n;
    this.pipe.holdSource(true);
    if (this.pipe.dst.destroyed) this.onCut();
    // The reset follows the half frame after a short gap, so the receiver reads the half frame
    // before the RST (data still unread when an RST arrives may be reported as a plain EOF).
    else this.pipe.dst.write(buf.subarray(0, n), () => setTimeout(this.onCut, CUT_GAP_MS).unref());
  }

  stop(): void {
    if (this.pipe.shaper === this) this.pipe.shaper = null;
  }
}
