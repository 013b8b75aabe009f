// The Dockerfile, checked without a Docker engine: its stages, pins, the sidecar stage's user,
// entrypoint and dependencies, and its HEALTHCHECK command run for real against a sidecar.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { composeConfig, ROOT, run } from './helpers.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  body: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, grouped by FROM. */
function stages(text: string): Stage[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\s*\\\n\s*/g, ' ');
  const out: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, op, args] = m as unknown as [string, string, string];
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args.trim());
      assert.ok(f, `bad FROM: ${args}`);
      out.push({ from: f[1]!, name: f[2], body: [] });
    } else {
      assert.ok(out.length > 0, `${op} before FROM`);
      out.at(-1)!.body.push({ op, args: args.trim() });
    }
  }
  return out;
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

function final(): Stage {
  return stages(DOCKERFILE).at(-1)!;
}

function one(stage: Stage, op: string): string {
  const found = stage.body.filter((i) => i.op === op);
  assert.equal(found.length, 1, `${stage.name}: expected one ${op}`);
  return found[0]!.args;
}

describe('Dockerfile', () => {
  it('has named build, prod-deps, lab and sidecar stages; the sidecar is the default (last)', () => {
    assert.deepEqual(
      stages(DOCKERFILE).map((s) => s.name),
      ['build', 'prod-deps', 'docker-cli', 'lab', 'sidecar'],
    );
  });

  it('pins every base image to an exact version', () => {
    const all = stages(DOCKERFILE);
    const names = new Set(all.map((s) => s.name));
    for (const s of all) {
      if (names.has(s.from)) continue; // a previous stage
      assert.match(s.from, /^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, s.from);
    }
    assert.deepEqual(
      [...new Set(all.map((s) => s.from))],
      ['node:20.19.0-bookworm-slim', 'docker:27.3.1-cli'],
    );
  });

  it('has every stage compose builds', async () => {
    const { config } = await composeConfig();
    const targets = new Set(Object.values(config.services).flatMap((s) => (s.build ? [s.build.target] : [])));
    const names = stages(DOCKERFILE).map((s) => s.name);
    for (const t of targets) assert.ok(names.includes(t), `compose builds target ${t}`);
    assert.deepEqual([...targets].sort(), ['lab', 'sidecar']);
  });

  it('installs production dependencies only in the sidecar image', () => {
    const all = stages(DOCKERFILE);
    const prod = all.find((s) => s.name === 'prod-deps')!;
    assert.deepEqual(
      prod.body.filter((i) => i.op === 'RUN').map((i) => i.args),
      ['npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force'],
    );
    const sidecar = all.find((s) => s.name === 'sidecar')!;
    const copies = sidecar.body.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.includes('--from=prod-deps /app/node_modules ./node_modules'));
    assert.ok(!copies.some((c) => c.startsWith('--from=build') && c.includes('node_modules')));
    assert.ok(!sidecar.body.some((i) => i.op === 'RUN'));
    // The lab image (backend + drill runner, never deployed) takes the full tree on purpose.
    const lab = all.find((s) => s.name === 'lab')!;
    assert.ok(
      lab.body.some((i) => i.op === 'COPY' && i.args === '--from=build /src/node_modules ./node_modules'),
    );
  });

  it('ships only dist/cli, dist/proxy, bin/ and the package files in the sidecar stage, as a non-root user', () => {
    const s = final();
    assert.equal(s.name, 'sidecar');
    assert.deepEqual(
      s.body.filter((i) => i.op === 'COPY').map((i) => i.args),
      [
        '--from=prod-deps /app/node_modules ./node_modules',
        'package.json package-lock.json ./',
        'bin ./bin',
        '--from=build /src/dist/cli ./dist/cli',
        '--from=build /src/dist/proxy ./dist/proxy',
      ],
    );
    const user = one(s, 'USER');
    assert.equal(user, 'node');
    assert.doesNotMatch(user, /^(root|0)(:|$)/);
    assert.equal(one(s, 'ENTRYPOINT'), '["node", "bin/socketlens.js"]');
    assert.equal(one(s, 'CMD'), '["proxy"]');
    assert.equal(one(s, 'EXPOSE'), '8080 9464');
  });

  it('runs the lab stage as a non-root user too', () => {
    const lab = stages(DOCKERFILE).find((s) => s.name === 'lab')!;
    assert.equal(one(lab, 'USER'), 'node');
  });

  it('keeps node_modules, dist and the repository history out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.git', '.lab', 'test']) assert.ok(ignored.includes(p), p);
  });

  describe('HEALTHCHECK', () => {
    let sidecar: TestSidecar;
    let script: string;
    before(async () => {
      const hc = one(final(), 'HEALTHCHECK');
      const m = /^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD (\[.*\])$/.exec(hc);
      assert.ok(m, hc);
      const argv = JSON.parse(m[1]!) as string[];
      assert.deepEqual(argv.slice(0, 2), ['node', '-e']);
      assert.equal(argv.length, 3);
      script = argv[2]!;
      assert.match(script, /\/healthz/);
      sidecar = await startTestSidecar(1);
    });
    after(async () => {
      await sidecar?.close();
    });

    it('passes against a live admin server on the port in SOCKETLENS_ADMIN', async () => {
      const port = new URL(sidecar.adminUrl!).port;
      const res = await run(process.execPath, ['-e', script], {
        env: { SOCKETLENS_ADMIN: `0.0.0.0:${port}` },
      });
      assert.equal(res.code, 0, res.stderr);
    });

    it('fails when nothing answers there', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as { port: number }).port;
      await new Promise((resolve) => closed.close(resolve));
      const res = await run(process.execPath, ['-e', script], {
        env: { SOCKETLENS_ADMIN: `0.0.0.0:${port}` },
      });
      assert.equal(res.code, 1);
    });
  });
});
