import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseArgs } from '../../proxy/config/load.js';
import { resolveSidecarConfig, SIDECAR_OPTIONS } from '../../proxy/config/sidecar-options.js';
import { humanDuration, parseBytes, parseDuration } from '../../proxy/config/units.js';
import { ConfigError } from '../../proxy/errors.js';

const resolve = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  resolveSidecarConfig(parseArgs(argv, SIDECAR_OPTIONS), env);

describe('configuration', () => {
  it('parses durations and sizes', () => {
    assert.deepEqual(
      ['500ms', '2s', '1m', '1.5s', '250', '1h', 'x', '5 s'].map((d) => parseDuration(d)),
      [500, 2000, 60_000, 1500, 250, 3_600_000, null, 5000],
    );
    assert.deepEqual(
      ['65536', '64KiB', '1MiB', '1mb', '2k', 'lots'].map((b) => parseBytes(b)),
      [65536, 65536, 1048576, 1_000_000, 2048, null],
    );
  });

  it('takes flags over environment over file over defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-config-'));
    const yaml = join(dir, 'sidecar.yaml');
    writeFileSync(
      yaml,
      'target: http://127.0.0.1:3000\nheartbeatInterval: 30s\nheartbeat-misses: 4\nallowOrigin: [https://a.example, https://b.example]\nmaxBufferBytes: 2MiB\n',
    );
    const c = resolve(['--config', yaml, '--heartbeat-misses', '3'], {
      SOCKETLENS_HEARTBEAT_INTERVAL: '10s',
    });
    assert.equal(c.target.href, 'http://127.0.0.1:3000/');
    assert.equal(c.heartbeatInterval, 10_000); // env beats file
    assert.equal(c.heartbeatMisses, 3); // flag beats file
    assert.deepEqual(c.allowOrigin, ['https://a.example', 'https://b.example']);
    assert.equal(c.maxBufferBytes, 2 * 1024 * 1024);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(c.admin?.port, 9464);
    const json = join(dir, 'sidecar.json');
    writeFileSync(
      json,
      JSON.stringify({ target: 'http://[::1]:4000', admin: 'off', allowOrigin: 'https://x.example' }),
    );
    const j = resolve([
      '--config',
      json,
      '--allow-origin',
      'https://y.example',
      '--allow-origin',
      'https://z.example',
    ]);
    assert.equal(j.admin, null);
    assert.deepEqual(j.allowOrigin, ['https://y.example', 'https://z.example']);
    assert.equal(j.target.hostname, '[::1]');
  });

  const bad: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [[], {}, '--target: is required (or set SOCKETLENS_TARGET, or "target" in --config)'],
    [['--target', 'ftp://x'], {}, '--target: "ftp://x" must be an http:// or https:// URL, not ftp:'],
    [
      ['--target', 'http://x:1/api'],
      {},
      '--target: "http://x:1/api" must be an origin only (no path or query)',
    ],
    [
      ['--target', 'http://x:1'],
      { SOCKETLENS_LISTEN: 'nope' },
      'SOCKETLENS_LISTEN: "nope" is not host:port (e.g. 127.0.0.1:8080)',
    ],
    [
      ['--target', 'http://x:1', '--heartbeat-misses', '0'],
      {},
      '--heartbeat-misses: value must be at least 1, got 0',
    ],
    [['--target', 'http://x:1', '--bogus'], {}, '--bogus: unknown option (see --help)'],
    [
      ['--target', 'http://x:1', '--rate-limit-status', '500'],
      {},
      '--rate-limit-status: must be 429 or 503, got 500',
    ],
    [
      ['--target', 'http://x:1', '--jwt-token-from', 'body:x'],
      {},
      '--jwt-token-from: "body:x" must be header:NAME, query:NAME or cookie:NAME',
    ],
  ];
  for (const [argv, env, message] of bad) {
    it(`names the field and the problem: ${message.split(':')[0]}`, () => {
      assert.throws(
        () => resolve(argv, env),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    });
  }

  it('prints one line and exits 2 on bad configuration, from the real CLI', () => {
    const r = spawnSync(
      process.execPath,
      ['bin/socketlens.js', 'proxy', '--target', 'http://127.0.0.1:1', '--drain-timeout', 'soon'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      'socketlens proxy: --drain-timeout: "soon" is not a duration (use e.g. 500ms, 2s, 1m, or milliseconds)\n',
    );
    assert.equal(r.stdout, '');
    const unknown = spawnSync(process.execPath, ['bin/socketlens.js', 'frobnicate'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    const help = spawnSync(process.execPath, ['bin/socketlens.js', 'proxy', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const o of SIDECAR_OPTIONS)
      assert.ok(help.stdout.includes(`--${o.flag}`), `--help documents --${o.flag}`);
  });
});

describe('durations for people', () => {
  it('rounds measured durations: ms under a second, one decimal under 10 s, whole seconds, then minutes', () => {
    assert.deepEqual([0.4, 849.6, 2922.0402969999996, 9949, 75_300, 599_499, 720_000].map(humanDuration), [
      '0 ms',
      '850 ms',
      '2.9 s',
      '9.9 s',
      '75 s',
      '599 s',
      '12 min',
    ]);
  });
});
