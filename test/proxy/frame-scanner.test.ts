import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameScanner, Opcode } from '../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../helpers/frames.js';

function scanAll(bytes: Buffer, splits: number[] = [], setup?: (s: FrameScanner) => void): FrameScanner {
  const s = new FrameScanner();
  setup?.(s);
  let from = 0;
  for (const at of [...splits, bytes.length]) {
    s.push(bytes.subarray(from, at));
    from = at;
  }
  return s;
}

function counts(s: FrameScanner) {
  return {
    frames: s.frames,
    messages: s.messages,
    pings: s.pings,
    pongs: s.pongs,
    closes: s.closes,
    closeCode: s.closeCode,
    broken: s.broken,
  };
}

// A fragmented message with a ping between its fragments, a 16-bit and a 64-bit length,
// a masked close with a code: the mix a real stream can carry.
const mixed = (mask: boolean) =>
  Buffer.concat([
    frame({ opcode: Opcode.Text, payload: 'hello', mask }),
    frame({ opcode: Opcode.Text, payload: 'frag-1 ', fin: false, mask }),
    frame({ opcode: Opcode.Ping, payload: 'p', mask }),
    frame({ opcode: Opcode.Continuation, payload: 'frag-2 ', fin: false, mask }),
    frame({ opcode: Opcode.Pong, payload: '', mask }),
    frame({ opcode: Opcode.Continuation, payload: 'end', fin: true, mask }),
    frame({ opcode: Opcode.Binary, payload: Buffer.alloc(300, 7), mask }),
    frame({ opcode: Opcode.Binary, payload: Buffer.alloc(70_000, 1), mask }),
    frame({ opcode: Opcode.Binary, payload: 'x', long: true, mask }),
    frame({ opcode: Opcode.Close, payload: closePayload(4001, 'bye'), mask }),
  ]);

const expected = {
  frames: 10,
  messages: 5,
  pings: 1,
  pongs: 1,
  closes: 1,
  closeCode: 4001,
  broken: false,
};

describe('FrameScanner', () => {
  it('counts messages, not frames, with control frames between fragments', () => {
    assert.deepEqual(counts(scanAll(mixed(false))), expected);
    assert.deepEqual(counts(scanAll(mixed(true))), expected);
  });

  it('gives the same counts for a split at every byte offset of the headers region', () => {
    for (const mask of [false, true]) {
      const bytes = mixed(mask);
      // Every offset in the first 400 bytes and around the big frame's header; the middle of the
      // 70 000-byte payload adds nothing new.
      const offsets = [...Array(400).keys(), ...Array.from({ length: 40 }, (_, i) => bytes.length - 40 + i)];
      for (const at of offsets) {
        assert.deepEqual(counts(scanAll(bytes, [at])), expected, `split at ${at}, mask=${mask}`);
      }
    }
  });

  it('gives the same counts when fed one byte at a time', () => {
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Text, payload: 'a', fin: false, mask: true }),
      frame({ opcode: Opcode.Ping, payload: 'xy', mask: true }),
      frame({ opcode: Opcode.Continuation, payload: 'b', mask: true }),
      frame({ opcode: Opcode.Close, payload: closePayload(1000), mask: true }),
    ]);
    const s = scanAll(bytes, [...Array(bytes.length).keys()].slice(1));
    assert.deepEqual(counts(s), {
      frames: 4,
      messages: 1,
      pings: 1,
      pongs: 0,
      closes: 1,
      closeCode: 1000,
      broken: false,
    });
  });

  it('reads a close without a code as 1005 and keeps the first close code', () => {
    const s = scanAll(
      Buffer.concat([
        frame({ opcode: Opcode.Close }),
        frame({ opcode: Opcode.Close, payload: closePayload(1001) }),
      ]),
    );
    assert.equal(s.closeCode, 1005);
    assert.equal(s.closes, 2);
  });

  it('reads 64-bit lengths exactly', () => {
    const s = new FrameScanner();
    const header = Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5]); // 2^32 + 5 bytes
    s.push(header);
    s.push(Buffer.alloc(1000));
    assert.equal(s.atBoundary, false);
    // A message counts once its last byte has been scanned.
    assert.equal(s.messages, 0);
  });

  const violations: Array<[string, Buffer, string]> = [
    ['reserved opcode', frame({ opcode: 0x3, payload: 'x' }), 'reserved_opcode'],
    ['fragmented control frame', frame({ opcode: Opcode.Ping, fin: false }), 'control_frame_fragmented'],
    [
      'control frame over 125 bytes',
      frame({ opcode: Opcode.Ping, payload: Buffer.alloc(126) }),
      'control_frame_too_long',
    ],
    [
      'continuation without a message',
      frame({ opcode: Opcode.Continuation, payload: 'x' }),
      'unexpected_continuation',
    ],
    [
      'new message inside a fragmented one',
      Buffer.concat([frame({ opcode: Opcode.Text, fin: false }), frame({ opcode: Opcode.Text })]),
      'expected_continuation',
    ],
    ['RSV1 without permessage-deflate', frame({ opcode: Opcode.Text, rsv1: true }), 'reserved_bits'],
    ['close with a 1-byte payload', frame({ opcode: Opcode.Close, payload: 'x' }), 'invalid_close_length'],
    ['length above 2^53 - 1', Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0]), 'length_too_large'],
  ];
  for (const [name, bytes, why] of violations) {
    it(`stops parsing on ${name} and stays stopped`, () => {
      const s = scanAll(Buffer.concat([bytes, frame({ opcode: Opcode.Text, payload: 'after' })]));
      assert.equal(s.broken, true);
      assert.equal(s.violation, why);
    });
  }

  it('accepts RSV1 when permessage-deflate was negotiated', () => {
    const s = scanAll(frame({ opcode: Opcode.Text, rsv1: true, payload: 'z' }), [], (x) => {
      x.allowRsv1 = true;
    });
    assert.equal(s.broken, false);
    assert.equal(s.messages, 1);
  });

  it('recognises a pong that carries the match token, split anywhere, without counting it', () => {
    const token = Buffer.from('sl:token-123');
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Pong, payload: 'sl:token-124', mask: true }), // same length, other bytes
      frame({ opcode: Opcode.Pong, payload: token, mask: true }),
    ]);
    for (let at = 0; at <= bytes.length; at++) {
      const s = new FrameScanner();
      s.matchToken = token;
      let matched = 0;
      for (const part of [bytes.subarray(0, at), bytes.subarray(at)]) {
        let p = 0;
        while (p < part.length) {
          p = s.step(part, p, part.length);
          if (s.atBoundary && s.lastPongMatched) {
            matched++;
            s.lastPongMatched = false;
          }
        }
      }
      assert.equal(matched, 1, `split at ${at}`);
      assert.equal(s.pongs, 1, `split at ${at}`);
    }
  });
});
