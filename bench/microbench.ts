/**
 * Frame-scanner microbenchmark (tinybench): FrameScanner.push() on
 *  - small frames: one buffer holding 1000 masked 64-byte frames → ns per frame;
 *  - large frames: one masked 1 MiB frame pushed in 64 KiB chunks, as a socket delivers it → GB/s.
 */
import { Bench } from 'tinybench';
import { FrameScanner } from '../proxy/ws/frame-scanner.js';
import { buildFrame, repeatFrame } from './lib/frames.js';

const SMALL_FRAMES = 1000;
const LARGE = 1 << 20;
const CHUNK = 64 * 1024;

export async function runScannerBench(timeMs: number): Promise<Record<string, number>> {
  const small = repeatFrame(buildFrame(64, { masked: true }), SMALL_FRAMES);
  const large = buildFrame(LARGE, { masked: true });
  const chunks: Buffer[] = [];
  for (let off = 0; off < large.length; off += CHUNK) chunks.push(large.subarray(off, off + CHUNK));
  const s1 = new FrameScanner();
  const s2 = new FrameScanner();

  const bench = new Bench({ time: timeMs, warmupTime: Math.min(200, timeMs) });
  bench.add('small', () => {
    s1.push(small);
  });
  bench.add('large', () => {
    for (const c of chunks) s2.push(c);
  });
  await bench.run();
  if (s1.broken || s2.broken || s1.frames === 0 || s2.frames === 0) {
    throw new Error(`scanner bench: the scanner rejected the frames (${s1.violation ?? s2.violation})`);
  }
  const meanMs = (name: string) => {
    const r = bench.tasks.find((t) => t.name === name)?.result;
    if (!r || !('latency' in r)) throw new Error(`scanner bench: task ${name} did not complete`);
    return r.latency.mean;
  };
  return {
    nsPerSmallFrame: (meanMs('small') * 1e6) / SMALL_FRAMES,
    largeGBPerSec: large.length / (meanMs('large') / 1000) / 1e9,
  };
}
