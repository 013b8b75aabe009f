import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameScanner, Opcode } from '../../proxy/ws/frame-scanner.js';
import { closeFrame, encodeFrame } from '../../proxy/ws/frames.js';
import { closePayload, frame } from '../helpers/frames.js';

describe('frame encoder', () => {
  it('writes 7-, 16- and 64-bit lengths exactly like the reference encoder', () => {
    for (const len of [0, 125, 126, 65535, 65536, 70_000]) {
      const payload = Buffer.alloc(len, 7);
      assert.ok(
        encodeFrame(Opcode.Binary, payload, false).equals(frame({ opcode: Opcode.Binary, payload })),
        `len ${len}`,
      );
    }
    assert.ok(
      encodeFrame(Opcode.Text, Buffer.from('a'), false, false).equals(
        frame({ opcode: Opcode.Text, payload: 'a', fin: false }),
      ),
    );
  });

  it('masks client frames so a scanner reads them back', () => {
    const s = new FrameScanner();
    s.push(encodeFrame(Opcode.Text, Buffer.alloc(70_000, 1), true));
    s.push(closeFrame(1001, 'bye', true));
    assert.deepEqual([s.messages, s.closeCode, s.broken], [1, 1001, false]);
    assert.ok(
      closeFrame(1000, '', false).equals(frame({ opcode: Opcode.Close, payload: closePayload(1000) })),
    );
  });
});
