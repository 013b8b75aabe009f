/**
 * Long fuzz run of the frame-scanner properties (lib/scanner-properties.ts), outside CI (not a
 * *.test.ts file): the split-vs-oracle and garbage properties with small and large payloads
 * (large ones reach the 16- and 64-bit length forms), and the relay property through a real
 * sidecar, each in rounds of fresh seeds until the time budget is spent.
 *
 *   npx tsc -p . && node dist/test/hardening/long/fuzz.js [--seconds 300] [--seed 1]
 *
 * Prints the inputs tried per property and, on a failure, fast-check's report (seed and path, to
 * replay it); exit code 1 then.
 */
import fc from 'fast-check';
import { startRawBackend, waitUntil } from '../../helpers/raw.js';
import { startTestSidecar } from '../../helpers/sidecar.js';
import { garbageProperty, relayProperty, splitProperty, streamArb } from '../lib/scanner-properties.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
}

const seconds = arg('seconds', 300);
const baseSeed = arg('seed', 1);
const out = (s: string) => process.stdout.write(`${s}\n`);

const small = streamArb();
const large = streamArb({ large: true, maxParts: 3, maxMessages: 4 });
const backend = await startRawBackend();
const sidecar = await startTestSidecar(backend.port);

interface Job {
  name: string;
  runsPerRound: number;
  /** Share of the time budget. */
  share: number;
  run(seed: number, numRuns: number): Promise<void>;
}
const jobs: Job[] = [
  {
    name: 'split vs ws Receiver, payloads <= 300 B',
    runsPerRound: 2000,
    share: 0.3,
    run: async (seed, numRuns) => fc.assert(splitProperty(small), { seed, numRuns }),
  },
  {
    name: 'split vs ws Receiver, payloads up to 70 kB',
    runsPerRound: 200,
    share: 0.2,
    run: async (seed, numRuns) => fc.assert(splitProperty(large), { seed, numRuns }),
  },
  {
    name: 'mutated input never throws',
    runsPerRound: 2000,
    share: 0.2,
    run: async (seed, numRuns) => fc.assert(garbageProperty(small), { seed, numRuns }),
  },
  {
    name: 'relay byte-identical through a sidecar',
    runsPerRound: 100,
    share: 0.3,
    run: (seed, numRuns) => fc.assert(relayProperty(sidecar.port, backend), { seed, numRuns }),
  },
];

const totals: Record<string, { inputs: number; rounds: number; seconds: number }> = {};
let failed = false;
try {
  for (const job of jobs) {
    const t0 = performance.now();
    const budget = seconds * 1000 * job.share;
    let inputs = 0;
    let round = 0;
    while (performance.now() - t0 < budget) {
      const seed = baseSeed * 1_000_003 + round * 7919 + job.name.length;
      try {
        await job.run(seed, job.runsPerRound);
      } catch (err) {
        failed = true;
        out(`FAILED ${job.name} (seed ${seed}):\n${(err as Error).message}`);
        break;
      }
      inputs += job.runsPerRound;
      round++;
    }
    totals[job.name] = { inputs, rounds: round, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    out(`fuzz: ${job.name}: ${inputs} inputs in ${totals[job.name].seconds} s`);
    if (failed) break;
  }
  await waitUntil(() => sidecar.ctx.table.size === 0, 10_000, 'all relayed connections closed');
} finally {
  await sidecar.close();
  await backend.close();
}
const total = Object.values(totals).reduce((s, t) => s + t.inputs, 0);
out(JSON.stringify({ ok: !failed, totalInputs: total, perProperty: totals }, null, 2));
process.exitCode = failed ? 1 : 0;
