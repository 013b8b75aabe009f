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
