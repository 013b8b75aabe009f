// Smoke test of the benchmark harness: a --quick run against direct and sidecar must finish,
// and write a results file with every workload's numbers. No timing assertions: the numbers
// only have to exist and be positive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from '../../bench/workloads.js';

const runJs = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'socketlens-bench-'));
after(() => rmSync(out, { recursive: true, force: true }));

it('bench --quick produces a results file with every workload', { timeout: 90_000 }, () => {
  const r = spawnSync(process.execPath, [runJs, '--quick', '--targets', 'direct,sidecar', '--out', out], {
    encoding: 'utf8',
    timeout: 85_000,
  });
  assert.equal(r.status, 0, `bench exited ${r.status}\n${r.stderr}`);
  assert.match(r.stdout, /echo throughput/);
  assert.match(r.stdout, /(PASS|MISS|N\/A) +sidecar echo throughput/);

  const res = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
  assert.ok(readFileSync(join(out, 'latest.md'), 'utf8').includes('echo throughput'));
  const m = res.medians;
  const positive = (w: string, k: string, t: string) => {
    const v = m[w]?.[k]?.[t];
    assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${w}.${k}.${t} = ${v}`);
  };
  for (const t of ['direct', 'sidecar']) {
    positive('echo', 'msgsPerSec', t);
    positive('socketio', 'msgsPerSec', t);
    positive('graphql', 'msgsPerSec', t);
    positive('latency', 'p50Us', t);
    positive('latency', 'p99Us', t);
    positive('latency', 'p999Us', t);
    positive('large', 'mbPerSec', t);
    positive('handshake', 'perSec', t);
    positive('handshake', 'p50Us', t);
    positive('handshake', 'p99Us', t);
    positive('http', 'perSec', t);
    positive('longpoll', 'perSec', t);
    positive('sse', 'perSec', t);
    positive('broadcast', 'perSec', t);
  }
  // Every workload that relays messages reports the sidecar's CPU per message.
  for (const w of WORKLOADS.filter((w) => w !== 'idle' && w !== 'scanner'))
    positive(w, 'cpuUsPerMsg', 'sidecar');
  assert.ok(typeof res.limits?.echo?.sidecar === 'string', 'limiting resource named');
  assert.match(r.stdout, /Limiting resource of each run/);
  assert.ok(Number.isFinite(m.latency.added_p99Us.sidecar));
  positive('idle', 'baselineMiB', 'sidecar');
  assert.ok(Number.isFinite(m.idle.perConnKiB_200.sidecar));
  assert.ok(Number.isFinite(m.idle.afterCloseKiB_200.sidecar));
  positive('scanner', 'nsPerSmallFrame', '-');
  positive('scanner', 'largeGBPerSec', '-');
  positive('echo', 'msgsPerSec', 'sidecar');
  assert.ok(res.cpu.echo.sidecar.proxy > 0, 'proxy CPU measured');
  assert.ok(res.cpu.echo.direct.generator > 0, 'generator CPU measured');
  for (const k of ['cores', 'cpuModel', 'node', 'nginx', 'haproxy'])
    assert.ok(res.machine[k], `machine.${k}`);
  assert.ok(
    res.records.every((r: { error?: string }) => r.error === undefined),
    'no workload failed',
  );
});
