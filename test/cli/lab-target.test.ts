import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BIN = fileURLToPath(new URL('../../../bin/socketlens.js', import.meta.url));

function lab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'lab', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('socketlens lab --target: usage', () => {
  it('lists the target drills in --help', async () => {
    const r = await lab(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Drills with --target \(against your service\):\n {2}upgrade-stripped/);
    assert.match(r.stdout, /--ws-path <text>/);
  });

  it('refuses bad input in one line with exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['--target', 'http://127.0.0.1:9/ws'],
        'socketlens lab: --target: "http://127.0.0.1:9/ws" must be http://host:port (put the path in --ws-path)\n',
      ],
      [
        ['--target', 'http://127.0.0.1:9', '--ws-path', 'ws'],
        'socketlens lab: --ws-path: "ws" must start with /\n',
      ],
      [
        ['--target', 'http://127.0.0.1:9', '--env', 'compose'],
        'socketlens lab: --target: runs with --env native only\n',
      ],
      [['--target', 'http://127.0.0.1:9', '--drill', 'cross-node-broadcast'], ''],
    ];
    for (const [args, line] of cases) {
      const r = await lab(args);
      assert.equal(r.code, 2, args.join(' '));
      if (line) assert.equal(r.stderr, line);
      else
        assert.match(
          r.stderr,
          /^socketlens lab: --drill: unknown drill "cross-node-broadcast" \(drills: upgrade-stripped, half-open,/,
        );
    }
  });
});
