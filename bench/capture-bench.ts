/**
 * Decoder-capture microbenchmark: what FrameScanner.push() costs per masked data message when a
 * protocol decoder has claimed the connection, next to the plain scan and the size observation.
 *
 *   node dist/bench/capture-bench.js [--time MS] [--rounds N]
 *
 * Cases, each a buffer of 1000 masked frames pushed at once (tinybench, mean per frame in ns,
 * median over rounds):
 * - plain:     no hooks (counting only);
 * - sizes:     a size observer (as with the message-size histogram);
 * - capture:   a sink with the decoders' 256-byte prefix (the first 256 payload bytes of every
 *              message are unmasked into it; onMessage does nothing);
 * each for 64-byte and 1 KiB payloads (the 1 KiB case fills the whole prefix).
 */
import { Bench } from 'tinybench';
import { PREFIX_BYTES } from '../proxy/protocols/decoder.js';
import { FrameScanner, type MessageSink } from '../proxy/ws/frame-scanner.js';
import { buildFrame, repeatFrame } from './lib/frames.js';

const FRAMES = 1000;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`capture-bench: --${name} needs a positive number\n`);
    process.exit(2);
  }
  return v;
}

class NullSink implements MessageSink {
  readonly prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  messages = 0;
  checksum = 0;
  onMessage(_opcode: number, _size: number, have: number): void {
    this.messages++;
    this.checksum = (this.checksum + this.prefix[have - 1]) | 0;
  }
}

export async function runCaptureBench(timeMs: number): Promise<Record<string, number>> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(300, timeMs) });
  const scanners: FrameScanner[] = [];
  for (const size of [64, 1024]) {
    const frames = repeatFrame(buildFrame(size, { masked: true }), FRAMES);
    const plain = new FrameScanner();
    const sized = new FrameScanner();
    const observed = {
      total: 0,
      observe(n: number) {
        this.total += n;
      },
    };
    sized.sizes = observed;
    const captured = new FrameScanner();
    captured.sink = new NullSink();
    scanners.push(plain, sized, captured);
    bench.add(`plain ${size}`, () => plain.push(frames));
    bench.add(`sizes ${size}`, () => sized.push(frames));
    bench.add(`capture ${size}`, () => captured.push(frames));
  }
  await bench.run();
  for (const s of scanners)
    if (s.broken || s.messages === 0)
      throw new Error(`capture bench: the scanner rejected the frames (${s.violation})`);
  const out: Record<string, number> = {};
  for (const t of bench.tasks) {
    const r = t.result;
    if (!r || !('latency' in r)) throw new Error(`capture bench: task ${t.name} did not complete`);
    out[`ns/msg ${t.name}`] = (r.latency.mean * 1e6) / FRAMES;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const timeMs = flag('time', 1000);
  const rounds = flag('rounds', 3);
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < rounds; i++) runs.push(await runCaptureBench(timeMs));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const k of Object.keys(runs[0]))
    process.stdout.write(
      `${k.padEnd(20)} ${median(runs.map((r) => r[k]))
        .toFixed(1)
        .padStart(8)}\n`,
    );
}
