// Configuration errors a user can act on: the fix is in the message.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseArgs, unknownEnvVariables } from '../../proxy/config/load.js';
import { resolveSidecarConfig, SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { nearest } from '../../proxy/config/suggest.js';
import { ConfigError } from '../../proxy/errors.js';
import { startTestSidecar } from '../helpers/sidecar.js';

/** This process's environment without SOCKETLENS_* variables (CI sets some for other tests). */
const plainEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SOCKETLENS_')));

const resolve = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  resolveSidecarConfig(parseArgs(argv, SIDECAR_OPTIONS), env);

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('no error');
}

function configFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sl-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('configuration errors that say what to do', () => {
  it('--target without a scheme suggests http://', () => {
    assert.equal(
      messageOf(() => resolve(['--target', 'localhost:3102'])),
      '--target: "localhost:3102" has no scheme: did you mean http://localhost:3102?',
    );
    assert.equal(
      messageOf(() => resolve([], { SOCKETLENS_TARGET: '10.0.0.5:8080' })),
      'SOCKETLENS_TARGET: "10.0.0.5:8080" has no scheme: did you mean http://10.0.0.5:8080?',
    );
  });

  it('a mistyped flag or config key names the nearest known one', () => {
    assert.equal(
      messageOf(() => resolve(['--target', 'http://x:1', '--hearbeat-interval', '5s'])),
      '--hearbeat-interval: unknown option; did you mean --heartbeat-interval? (see --help)',
    );
    const yaml = configFile('sidecar.yml', 'target: http://127.0.0.1:3000\nheartbeatIntervall: 5s\n');
    assert.equal(
      messageOf(() => resolve(['--config', yaml])),
      'config key "heartbeatIntervall": unknown option; did you mean "heartbeatInterval"?',
    );
    const kebab = configFile('sidecar.yml', 'target: http://127.0.0.1:3000\ndrain-timout: 5s\n');
    assert.equal(
      messageOf(() => resolve(['--config', kebab])),
      'config key "drain-timout": unknown option; did you mean "drain-timeout"?',
    );
    assert.equal(
      messageOf(() => resolve(['--target', 'http://x:1', '--frobnicate'])),
      '--frobnicate: unknown option (see --help)',
    );
  });

  it('a YAML syntax error shows the file, the line and the line itself', () => {
    const yaml = configFile(
      'bad.yml',
      'target: http://127.0.0.1:3000\nheartbeatInterval: 5s: 2\nlog: json\n',
    );
    assert.equal(
      messageOf(() => resolve(['--config', yaml])),
      `--config: ${yaml} line 2, column 20: not valid YAML: Nested mappings are not allowed in compact mappings: "heartbeatInterval: 5s: 2"`,
    );
    // JSON: Node reports a position for some errors only; the file is named either way.
    const json = configFile('bad.json', '{\n  "target": "http://127.0.0.1:3000",\n  "log": json\n}\n');
    assert.match(
      messageOf(() => resolve(['--config', json])),
      new RegExp(`^--config: ${json} (line 3, column 10: )?(is )?not valid JSON: `),
    );
  });

  it('reports mistyped SOCKETLENS_* variables with the nearest one, and only those', () => {
    assert.deepEqual(
      unknownEnvVariables(
        SIDECAR_OPTIONS,
        {
          SOCKETLENS_TARGET: 'http://x:1',
          SOCKETLENS_HEARTBEAT_INTERVALL: '5s',
          SOCKETLENS_CONFIG: '/etc/x.yml',
          SOCKETLENS_LAB_DIR: '/tmp/lab',
          SOCKETLENS_WHATEVER: '1',
          PATH: '/bin',
        },
        ['LAB_DIR'],
      ),
      [
        'SOCKETLENS_HEARTBEAT_INTERVALL is not a setting and is ignored; did you mean SOCKETLENS_HEARTBEAT_INTERVAL?',
        'SOCKETLENS_WHATEVER is not a setting and is ignored',
      ],
    );
    assert.equal(
      nearest('SOCKETLENS_DRAIN_TIMOUT', ['SOCKETLENS_DRAIN_TIMEOUT', 'SOCKETLENS_LOG']),
      'SOCKETLENS_DRAIN_TIMEOUT',
    );
  });

  it('the real CLI prints the mistyped variable on stderr', async () => {
    const child = spawn(
      process.execPath,
      ['bin/socketlens.js', 'proxy', '--listen', '127.0.0.1:0', '--admin', 'off'],
      {
        env: { ...plainEnv(), SOCKETLENS_TARGET: 'http://127.0.0.1:1', SOCKETLENS_DRAIN_TIMOUT: '1s' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    while (!stderr.includes('proxying')) await once(child.stderr, 'data');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    assert.equal(
      stderr.split('\n')[0],
      'socketlens proxy: SOCKETLENS_DRAIN_TIMOUT is not a setting and is ignored; did you mean SOCKETLENS_DRAIN_TIMEOUT?',
    );
  });

  it('a port in use names the listener and suggests a free port; exit 2 from the CLI', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        startTestSidecar(1, { admin: { host: '127.0.0.1', port: taken } }),
        (err: unknown) =>
          err instanceof ConfigError &&
          new RegExp(
            `^--admin: the admin listener cannot start: address already in use: 127\\.0\\.0\\.1:${taken} \\(another process listens there\\); pick another port, e\\.g\\. --admin 127\\.0\\.0\\.1:(\\d+)$`,
          ).test(err.message),
      );
      const r = spawnSync(
        process.execPath,
        ['bin/socketlens.js', 'proxy', '--target', 'http://127.0.0.1:1', '--listen', `127.0.0.1:${taken}`],
        { encoding: 'utf8', env: plainEnv() },
      );
      assert.equal(r.status, 2);
      const m = new RegExp(
        `^socketlens proxy: --listen: the proxy listener cannot start: address already in use: 127\\.0\\.0\\.1:${taken} \\(another process listens there\\); pick another port, e\\.g\\. --listen 127\\.0\\.0\\.1:(\\d+)\\n$`,
      ).exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.ok(Number(m[1]) > taken);
    } finally {
      blocker.close();
    }
  });
});
