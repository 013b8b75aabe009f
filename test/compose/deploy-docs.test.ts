// The deploy docs name only things that exist: sidecar variables the option parser knows, lab
// variables the compose file sets or reads, and files that are in the repository.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import type { OptionSpec } from '../../proxy/config/schema.js';
import { envName } from '../../proxy/config/schema.js';
import { COMPOSE_FILE, composeConfig, ROOT } from './helpers.js';

const DOCS = ['deploy/README.md', 'deploy/docker-run.md', 'deploy/kubernetes/sidecar-pod.yaml'];

describe('deploy docs', () => {
  it('mention only SOCKETLENS_* variables that the sidecar or the compose file knows', async () => {
    const sidecarVars = new Set(
      (SIDECAR_OPTIONS as readonly OptionSpec[])
        .filter((o) => !o.noEnv)
        .map((o) => envName('SOCKETLENS', o.flag)),
    );
    const { config } = await composeConfig();
    const composeVars = new Set([
      ...Object.keys(config.services.drills?.environment ?? {}),
      ...[...readFileSync(COMPOSE_FILE, 'utf8').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!),
    ]);
    const unknown: string[] = [];
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [name] of text.matchAll(/SOCKETLENS_[A-Z0-9_]*[A-Z0-9]/g)) {
        if (!sidecarVars.has(name) && !composeVars.has(name)) unknown.push(`${doc}: ${name}`);
      }
    }
    assert.deepEqual(unknown, []);
  });

  it('link only to files that exist', () => {
    const missing: string[] = [];
    for (const doc of DOCS.filter((d) => d.endsWith('.md'))) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [, href] of text.matchAll(/\]\(([^)#]+)\)/g)) {
        if (/^[a-z]+:/.test(href!)) continue;
        if (!existsSync(join(ROOT, dirname(doc), href!))) missing.push(`${doc}: ${href}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
