// `socketlens doctor` usage: bad input is one line on stderr and exit code 2; --help documents
// every option; an endpoint that refuses connections is a problem (exit 1), not a usage error.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { DOCTOR_OPTIONS } from '../../doctor/options.js';
import { checkOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

async function usageError(args: string[], line: string): Promise<void> {
  const r = await runDoctorCli(args);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${line}\n`);
}

describe('doctor usage', { timeout: 20_000 }, () => {
  it('rejects a URL with another scheme', () =>
    usageError(
      ['ftp://example.com/ws'],
      'socketlens doctor: URL: "ftp://example.com/ws" must start with ws://, wss://, http:// or https://, not ftp:',
    ));

  it('rejects text that is not a URL', () =>
    usageError(
      ['example.com/ws'],
      'socketlens doctor: URL: "example.com/ws" is not a URL (expected e.g. wss://example.com/ws)',
    ));

  it('rejects a missing URL and a second one', async () => {
    await usageError([], 'socketlens doctor: URL: missing (usage: socketlens doctor <url>)');
    await usageError(
      ['ws://a/ws', 'ws://b/ws'],
      'socketlens doctor: URL: expected one URL, got also "ws://b/ws"',
    );
  });

  it('rejects an unknown flag', () =>
    usageError(
      ['ws://127.0.0.1:1/ws', '--bogus'],
      'socketlens doctor: --bogus: unknown option (see --help)',
    ));

  it('rejects a bad duration and a flag without its value', async () => {
    await usageError(
      ['ws://127.0.0.1:1/ws', '--idle-probe', '5 parsecs'],
      'socketlens doctor: --idle-probe: "5 parsecs" is not a duration (use e.g. 500ms, 2s, 1m, or milliseconds)',
    );
    await usageError(['ws://127.0.0.1:1/ws', '--timeout'], 'socketlens doctor: --timeout: needs a value');
  });

  it('rejects an SSE path on another origin', () =>
    usageError(
      ['wss://a.example/ws', '--sse', 'https://b.example/sse'],
      'socketlens doctor: --sse: "https://b.example/sse" must be on the same origin as the URL (https://a.example)',
    ));

  it('--help documents every option and the exit codes', async () => {
    const r = await runDoctorCli(['--help']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith('Usage: socketlens doctor <url> [options]\n'));
    for (const spec of DOCTOR_OPTIONS)
      assert.ok(r.stdout.includes(`  --${spec.flag}`), `--${spec.flag} missing`);
    assert.ok(r.stdout.includes('Exit codes: 0 healthy, 1 a problem was found, 2 usage error.'));
  });

  it('a closed port is a problem found (exit 1), reported at the TCP step', async () => {
    // Take a free port and close it again: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));

    const r = await runDoctorCli([`ws://127.0.0.1:${port}/ws`, '--json']);
    assert.equal(r.code, 1);
    const report = parseReport(r.stdout);
    assert.equal(report.exitCode, 1);
    assert.equal(checkOf(report, 'dns').status, 'ok');
    const tcp = checkOf(report, 'tcp');
    assert.equal(tcp.status, 'fail');
    assert.equal(tcp.summary, `TCP connect to 127.0.0.1:${port}: connection refused`);
    for (const id of ['tls', 'ws.upgrade', 'ws.roundtrip', 'sse', 'poll'] as const)
      assert.equal(checkOf(report, id).status, 'skip');
    assert.equal(report.verdict.transport, 'none');
    assert.equal(report.verdict.healthy, false);
  });
});
