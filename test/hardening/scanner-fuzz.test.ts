/**
 * Property tests of the frame scanner and the relay: random valid frame streams, split at random
 * points, are counted exactly as ws's own Receiver (the oracle) parses them; random garbage never
 * throws; and through a real sidecar the bytes arrive unchanged. The properties live in
 * lib/scanner-properties.ts; long/fuzz.ts runs them with many more inputs.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { startRawBackend, waitUntil } from '../helpers/raw.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { garbageProperty, relayProperty, splitProperty } from './lib/scanner-properties.js';

describe('frame scanner against ws Receiver', () => {
  it('counts random valid streams split at random points exactly as the oracle parses them', () => {
    fc.assert(splitProperty(), { numRuns: 300 });
  });

  it('never throws on random or mutated input', () => {
    fc.assert(garbageProperty(), { numRuns: 500 });
  });
});

describe('relay under random input', () => {
  it('relays random (valid or mutated) client streams byte-identically through a real sidecar', async () => {
    const backend = await startRawBackend();
    const sidecar = await startTestSidecar(backend.port);
    try {
      await fc.assert(relayProperty(sidecar.port, backend), { numRuns: 40 });
      await waitUntil(() => sidecar.ctx.table.size === 0, 5000, 'all closed');
    } finally {
      await sidecar.close();
      await backend.close();
    }
  });
});
