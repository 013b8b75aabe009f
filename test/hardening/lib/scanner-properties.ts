/**
 * The frame-scanner properties, shared by the CI test (scanner-fuzz.test.ts) and the long fuzz
 * run (long/fuzz.ts): random valid frame streams split at random points are counted exactly as
 * ws's own Receiver (the oracle) parses them; random or mutated input never throws; and through a
 * real sidecar random streams arrive byte-identical.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { FrameScanner, Opcode } from '../../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../../helpers/frames.js';
import type { RawBackend } from '../../helpers/raw.js';
import { rawUpgrade } from '../../helpers/raw.js';

const require = createRequire(import.meta.url);
// ws exports its Receiver as a property of the package's main export.
const Receiver = (require('ws') as { Receiver: unknown }).Receiver as new (opts: {
  isServer: boolean;
  skipUTF8Validation?: boolean;
  maxPayload?: number;
}) => NodeJS.WritableStream & { on(ev: string, fn: (...a: unknown[]) => void): void };

export type Msg = { binary: boolean; parts: Uint8Array[]; controls: number[]; long: boolean };

/** Random messages: unfragmented or in fragments, with pings/pongs between fragments. */
export function streamArb(
  opts: { maxPayload?: number; maxParts?: number; maxMessages?: number; large?: boolean } = {},
) {
  const small = fc.uint8Array({ maxLength: opts.maxPayload ?? 300 });
  // Large payloads, around the 16-bit length boundary and beyond (fast-check's default sizes
  // would rarely get there); their bytes don't matter to the scanner, which never reads them.
  const part = opts.large
    ? fc.oneof(
        small,
        fc.integer({ min: 126, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
        fc.integer({ min: 65_530, max: 65_540 }).map((n) => new Uint8Array(n).fill(0x81)),
      )
    : small;
  const message = fc.record({
    binary: fc.boolean(),
    parts: fc.array(part, {
      minLength: 1,
      maxLength: opts.maxParts ?? 4,
    }),
    controls: fc.array(fc.constantFrom(Opcode.Ping, Opcode.Pong), { maxLength: 3 }),
    long: fc.boolean(),
  });
  return fc.array(message, { minLength: 1, maxLength: opts.maxMessages ?? 12 });
}

export function encode(msgs: Msg[], mask: boolean) {
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

export function oracle(bytes: Buffer, masked: boolean) {
  const r = new Receiver({ isServer: masked, skipUTF8Validation: true, maxPayload: 0 });
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

/** Scanner counts equal the oracle's for a random stream split at random points. */
export function splitProperty(arb = streamArb()) {
  return fc.property(arb, fc.boolean(), fc.array(fc.nat(), { maxLength: 8 }), (msgs, mask, cuts) => {
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
  });
}

/** The scanner never throws on mutated streams followed by junk. */
export function garbageProperty(arb = streamArb()) {
  return fc.property(
    arb,
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
  );
}

/** Random (valid or mutated) client streams arrive byte-identical through a real sidecar. */
export function relayProperty(sidecarPort: number, backend: RawBackend, arb = streamArb()) {
  return fc.asyncProperty(
    arb,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    async (msgs, flips) => {
      const bytes = Buffer.from(encode(msgs, true).bytes);
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      const client = await rawUpgrade(sidecarPort, '/ws');
      const peer = await backend.next();
      const half = Math.floor(bytes.length / 2);
      client.socket.write(bytes.subarray(0, half));
      client.socket.write(bytes.subarray(half));
      await peer.recv.waitFor(bytes.length);
      assert.ok(peer.recv.bytes.equals(bytes));
      client.socket.destroy();
    },
  );
}
