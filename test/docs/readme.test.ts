import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { HANDSHAKE_FAILURE_REASONS, METRICS } from '../../proxy/metrics/definitions.js';
import { SPAN_ATTRIBUTES } from '../../proxy/telemetry/tracing.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README stays true to the contract', () => {
  it('documents every metric of the registry contract', () => {
    const missing = Object.values(METRICS)
      .map((m) => m.name)
      .filter((n) => !readme.includes(`\`${n}\``));
    assert.deepEqual(missing, []);
  });

  it('documents every proxy flag', () => {
    const missing = SIDECAR_OPTIONS.map((o) => `--${o.flag}`).filter((f) => !readme.includes(f));
    assert.deepEqual(missing, []);
  });

  it('names every handshake failure reason', () => {
    const missing = HANDSHAKE_FAILURE_REASONS.filter((r) => !readme.includes(`\`${r}\``));
    assert.deepEqual(missing, []);
  });

  it('lists every span attribute under Traces', () => {
    const section = readme.slice(readme.indexOf('### Traces'), readme.indexOf('### Admin server'));
    assert.deepEqual(
      SPAN_ATTRIBUTES.filter((a) => !section.includes(`\`${a}\``)),
      [],
    );
  });
});
