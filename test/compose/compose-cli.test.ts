// lab/env/compose-cli.ts: a failing compose call becomes one coded error that names the command,
// its exit code and the end of its stderr (never "[object Object]"), and the lab reports it so.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ComposeCli, commandLine, runDocker, stderrTail } from '../../lab/env/compose-cli.js';
import { ComposeEnvironment } from '../../lab/env/compose.js';
import { runLab } from '../../lab/lab.js';
import { LabError } from '../../lab/runner/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'compose-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in `docker` that fails like compose does: 30 lines on stderr, exit code 14. */
function failingDocker(): string {
  const file = join(dir, 'docker');
  writeFileSync(
    file,
    '#!/bin/sh\nfor i in $(seq 1 30); do echo "stderr line $i" >&2; done\necho "$*" > "$(dirname "$0")/argv"\nexit 14\n',
  );
  chmodSync(file, 0o755);
  return file;
}

describe('compose-cli', () => {
  it('rejects with SL_LAB_COMPOSE: the command, the exit code and the last 12 stderr lines', async () => {
    const docker = failingDocker();
    const cli = new ComposeCli({
      projectDir: '/srv/lab',
      file: 'docker-compose.yml',
      docker,
      projectName: 'p1',
    });
    const err = await cli.run(['up', '-d', 'sidecar-1']).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LabError);
    assert.equal(err.code, 'SL_LAB_COMPOSE');
    const lines = err.message.split('\n');
    assert.equal(
      lines[0],
      `compose lab: \`${docker} compose -f /srv/lab/docker-compose.yml --project-directory /srv/lab -p p1 up -d sidecar-1\` failed (exit code 14):`,
    );
    assert.deepEqual(
      lines.slice(1),
      Array.from({ length: 12 }, (_, i) => `  stderr line ${19 + i}`),
    );
    assert.equal(err.logTail?.split('\n').length, 12);
  });

  it('says when docker itself cannot be run', async () => {
    await assert.rejects(runDocker(['version'], { docker: join(dir, 'no-such-docker') }), (e: unknown) => {
      assert.ok(e instanceof LabError);
      assert.equal(e.code, 'SL_LAB_COMPOSE');
      assert.match(e.message, /^compose lab: cannot run `.*no-such-docker version`: spawn .* ENOENT$/);
      return true;
    });
  });

  it('passes interpolation variables, blanking with empty values', async () => {
    const file = join(dir, 'env-docker');
    const show = (v: string) => `${v}=$\{${v}-unset}`;
    writeFileSync(file, `#!/bin/sh\necho "${['A', 'B', 'C'].map(show).join(' ')}"\n`);
    chmodSync(file, 0o755);
    process.env.B = 'from-shell';
    process.env.C = 'kept';
    try {
      const r = await runDocker([], { docker: file, env: { A: 'set', B: '' } });
      assert.equal(r.stdout, 'A=set B= C=kept\n');
    } finally {
      delete process.env.B;
      delete process.env.C;
    }
  });

  it('quotes arguments in messages only where a shell needs it', () => {
    assert.equal(commandLine(['compose', 'up', 'a b', "it's", 'x=1']), `compose up 'a b' 'it'\\''s' x=1`);
    assert.equal(stderrTail('a\nb\nc\n', 2), 'b\nc');
  });

  it('a drill whose compose call fails reports the readable error, not an object', async () => {
    const docker = failingDocker();
    process.env.SOCKETLENS_DOCKER = docker;
    try {
      const env = new ComposeEnvironment({ cwd: dir });
      const { report } = await runLab({
        drills: ['rejected-upgrade'],
        env,
        reportDir: null,
        progress: () => {},
      });
      const detail = report.drills[0]!.symptom.detail;
      assert.match(
        detail,
        /^error: compose lab: `.* up -d --no-deps --force-recreate backend-1` failed \(exit code 14\):/,
      );
      assert.match(detail, /stderr line 30$/);
      assert.doesNotMatch(detail, /object Object/);
    } finally {
      delete process.env.SOCKETLENS_DOCKER;
    }
  });
});
