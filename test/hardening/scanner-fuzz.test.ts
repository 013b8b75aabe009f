/**
 * Property tests of the frame scanner and the relay: random valid frame streams, split at random
 * points, are counted exactly as ws's own Receiver (the oracle) parses them; random garbage never
 * throws; and through a real sidecar the bytes arrive unchanged.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameScanner, Opcode } from '../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../helpers/frames.js';
import { rawUpgrade, startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';

const require = createRequire(import.meta.url);
// ws exports its Receiver as a property of the package's main export.
const Receiver = (require('ws') as { Receiver: unknown }).Receiver as new (opts: {
  isServer: boolean;
  skipUTF8Validation?: boolean;
}) => NodeJS.WritableStream & { on(ev: string, fn: (...a: unknown[]) => void): void };

/** A random message: either unfragmented or in fragments, with pings/pongs between fragments. */
const message = fc.record({
  binary: fc.boolean(),
  parts: fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
  controls: fc.array(fc.constantFrom(Opcode.Ping, Opcode.Pong), { maxLength: 3 }),
  long: fc.boolean(),
});
const stream = fc.array(message, { minLength: 1, maxLength: 12 });

type Msg = { binary: boolean; parts: Uint8Array[]; controls: number[]; long: boolean };

function encode(msgs: Msg[], mask: boolean) {
  const frames: Buffer[] = [];
  let pings = 0;
  let pongs = 0;
  for (const m of msgs) {
    m.parts.forEach((p, i) => {
      const first = m.binary ? Opcode.Binary : Opcode.Text;
      frames.push(
        frame({
          opcode: i === 0 ? first : Opcode.Continuation,
          payload: Buffer.from(p),
          fin: i === m.parts.length - 1,
          mask,
          long: m.long,
        }),
      );
      const c = m.controls[i];
      if (c !== undefined && i < m.parts.length - 1) {
        frames.push(frame({ opcode: c, payload: 'ctl', mask }));
        if (c === Opcode.Ping) pings++;
        else pongs++;
      }
    });
  }
  frames.push(frame({ opcode: Opcode.Close, payload: closePayload(1000), mask }));
  return { bytes: Buffer.concat(frames), pings, pongs, messages: msgs.length };
}

function oracle(bytes: Buffer, masked: boolean) {
  const r = new Receiver({ isServer: masked, skipUTF8Validation: true });
  const seen = { messages: 0, pings: 0, pongs: 0, closeCode: -1, error: null as unknown };
  r.on('message', () => seen.messages++);
  r.on('ping', () => seen.pings++);
  r.on('pong', () => seen.pongs++);
  r.on('conclude', (code) => {
    seen.closeCode = code as number;
  });
  r.on('error', (e) => {
    seen.error = e;
  });
  r.write(Buffer.from(bytes)); // a copy: the Receiver unmasks in place
  return seen;
}

describe('frame scanner against ws Receiver', () => {
  it('counts random valid streams split at random points exactly as the oracle parses them', () => {
    fc.assert(
      fc.property(stream, fc.boolean(), fc.array(fc.nat(), { maxLength: 8 }), (msgs, mask, cuts) => {
        const enc = encode(msgs, mask);
        const ref = oracle(enc.bytes, mask);
        assert.equal(ref.error, null);
        const s = new FrameScanner();
        const points = [...new Set(cuts.map((c) => c % (enc.bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const at of [...points, enc.bytes.length]) {
          s.push(enc.bytes.subarray(from, at));
          from = at;
        }
        assert.equal(s.broken, false);
        assert.equal(s.messages, ref.messages);
        assert.equal(s.pings, ref.pings);
        assert.equal(s.pongs, ref.pongs);
        assert.equal(s.closeCode, ref.closeCode);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random or mutated input', () => {
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 200 }),
        (msgs, flips, junk) => {
          const bytes = Buffer.from(encode(msgs, true).bytes);
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          const s = new FrameScanner();
          s.push(bytes);
          s.push(junk);
          assert.ok(s.frames >= 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('relay under random input', () => {
  it('relays random (valid or mutated) client streams byte-identically through a real sidecar', async () => {
    const backend = await startRawBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      await fc.assert(
        fc.asyncProperty(
          stream,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
          async (msgs, flips) => {
            const bytes = Buffer.from(encode(msgs, true).bytes);
            for (const [at, v] of flips) bytes[at % bytes.length] = v;
            const client = await rawUpgrade(sidecar.port, '/ws');
            const peer = await backend.next();
            const half = Math.floor(bytes.length / 2);
            client.socket.write(bytes.subarray(0, half));
            client.socket.write(bytes.subarray(half));
            await peer.recv.waitFor(bytes.length);
            assert.ok(peer.recv.bytes.equals(bytes));
            client.socket.destroy();
          },
        ),
        { numRuns: 40 },
      );
      await waitUntil(() => sidecar.ctx.table.size === 0, 5000, 'all closed');
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
