import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameScanner, type MessageSink, Opcode } from '../../../proxy/ws/frame-scanner.js';
import { frame } from '../../helpers/frames.js';

class Recorder implements MessageSink {
  readonly prefix = Buffer.alloc(8);
  readonly got: Array<{ opcode: number; size: number; text: string; compressed: boolean }> = [];
  onMessage(opcode: number, size: number, have: number, compressed: boolean): void {
    this.got.push({ opcode, size, text: this.prefix.toString('latin1', 0, have), compressed });
  }
}

function scan(bytes: Buffer, step: number, sink: Recorder, sizes: number[], rsv1 = false): FrameScanner {
  const s = new FrameScanner();
  s.sink = sink;
  s.allowRsv1 = rsv1;
  s.sizes = { observe: (n) => sizes.push(n) };
  for (let i = 0; i < bytes.length; i += step) s.push(bytes.subarray(i, i + step));
  return s;
}

describe('frame scanner: the decoder sink and message sizes', () => {
  const stream = Buffer.concat([
    frame({ opcode: Opcode.Text, payload: '42["chat","hello"]', mask: true }),
    frame({ opcode: Opcode.Text, payload: 'abc', mask: true, fin: false }),
    frame({ opcode: Opcode.Ping, payload: 'p', mask: true }),
    frame({ opcode: Opcode.Continuation, payload: 'defghijk', mask: true }),
    frame({ opcode: Opcode.Binary, payload: Buffer.alloc(0), mask: true }),
    frame({ opcode: Opcode.Text, payload: 'zipped', mask: true, rsv1: true }),
  ]);

  for (const step of [1, 3, 7, stream.length]) {
    it(`unmasks only the first bytes of each message, across fragments (chunks of ${step})`, () => {
      const sink = new Recorder();
      const sizes: number[] = [];
      const s = scan(stream, step, sink, sizes, true);
      assert.equal(s.broken, false);
      assert.equal(s.messages, 4);
      assert.equal(s.pings, 1);
      assert.deepEqual(sink.got, [
        { opcode: Opcode.Text, size: 18, text: '42["chat', compressed: false },
        { opcode: Opcode.Text, size: 11, text: 'abcdefgh', compressed: false },
        { opcode: Opcode.Binary, size: 0, text: '', compressed: false },
        { opcode: Opcode.Text, size: 6, text: '', compressed: true },
      ]);
      assert.deepEqual(sizes, [18, 11, 0, 6]);
    });
  }

  it('without a sink the sizes are still observed and nothing is captured', () => {
    const s = new FrameScanner();
    s.allowRsv1 = true;
    const sizes: number[] = [];
    s.sizes = { observe: (n) => sizes.push(n) };
    s.push(stream);
    assert.deepEqual(sizes, [18, 11, 0, 6]);
  });
});

describe('frame scanner: the captured prefix is the unmasked payload, whatever the alignment', () => {
  /** Deterministic PRNG (mulberry32) so a failure can be replayed. */
  function rng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  class Copy implements MessageSink {
    readonly got: Buffer[] = [];
    constructor(readonly prefix: Buffer) {}
    onMessage(_opcode: number, _size: number, have: number): void {
      this.got.push(Buffer.from(this.prefix.subarray(0, have)));
    }
  }

  // Word-aligned prefix (the fast path) and prefixes at odd offsets of a larger buffer (byte path).
  for (const offset of [0, 1, 2, 3]) {
    it(`prefix at byte offset ${offset}: 200 messages of 0..300 bytes, fragmented, chunked at random`, () => {
      const rand = rng(0x5eed + offset);
      const parts: Buffer[] = [];
      const payloads: Buffer[] = [];
      for (let m = 0; m < 200; m++) {
        const payload = Buffer.alloc(Math.floor(rand() * 301));
        for (let i = 0; i < payload.length; i++) payload[i] = Math.floor(rand() * 256);
        payloads.push(payload);
        const mask = rand() < 0.8;
        // Split into 1..3 fragments at random points.
        const cuts = [0, Math.floor(rand() * payload.length), payload.length].sort((a, b) => a - b);
        for (let f = 0; f < 2; f++) {
          const fin = f === 1;
          const piece = payload.subarray(cuts[f], cuts[f + 1]);
          parts.push(
            frame({ opcode: f === 0 ? Opcode.Binary : Opcode.Continuation, payload: piece, mask, fin }),
          );
        }
      }
      const stream = Buffer.concat(parts);
      const backing = Buffer.alloc(256 + 8);
      const sink = new Copy(backing.subarray(offset, offset + 256));
      const s = new FrameScanner();
      s.sink = sink;
      for (let i = 0; i < stream.length; ) {
        const step = 1 + Math.floor(rand() * 97);
        s.push(stream.subarray(i, i + step));
        i += step;
      }
      assert.equal(s.broken, false);
      assert.equal(s.messages, 200);
      assert.equal(sink.got.length, 200);
      for (let m = 0; m < 200; m++)
        assert.deepEqual(sink.got[m], payloads[m].subarray(0, 256), `message ${m}`);
    });
  }
});
