// Binary lookup (with the sbin and Go fallbacks) and ephemeral ports.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findBinary, installHint } from '../../lab/runner/binaries.js';
import { freePort } from '../../lab/runner/ports.js';

const binariesModule = new URL('../../lab/runner/binaries.js', import.meta.url).href;

/** findBinary in a fresh Node process with a minimal PATH (no sbin, no Go bin). */
function findWithBarePath(name: string): string {
  const script = `import { findBinary } from ${JSON.stringify(binariesModule)};
    try { console.log(findBinary(${JSON.stringify(name)})); } catch (e) { console.log(e.code); }`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME },
    encoding: 'utf8',
  }).trim();
}

describe('findBinary', () => {
  it('finds the installed components', () => {
    for (const name of ['nginx', 'haproxy', 'redis-server', 'prometheus', 'promtool', 'openssl']) {
      assert.match(findBinary(name), new RegExp(`^/.*/${name}$`));
    }
  });

  it('falls back to /usr/sbin when PATH lacks it', () => {
    assert.equal(findWithBarePath('nginx'), '/usr/sbin/nginx');
  });

  it('falls back to the Go bin directory for toxiproxy-server', () => {
    const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim();
    assert.equal(findWithBarePath('toxiproxy-server'), join(gopath, 'bin', 'toxiproxy-server'));
  });

  it('throws a coded error that says how to install', () => {
    assert.throws(() => findBinary('socketlens-no-such-program'), {
      code: 'SL_LAB_BINARY_NOT_FOUND',
      message: /^socketlens-no-such-program not found \(looked in .*\/usr\/sbin.*\)\. Install it with: /,
    });
    assert.equal(installHint('haproxy'), 'apt-get install haproxy');
    assert.equal(installHint('promtool'), 'apt-get install prometheus');
    assert.match(
      installHint('toxiproxy-server'),
      /^go install github\.com\/Shopify\/toxiproxy\/v2\/cmd\/server@v2\.12\.0 && mv .*\/server" .*\/toxiproxy-server"$/,
    );
  });
});

describe('freePort', () => {
  it('returns a port that can be bound right away', async () => {
    const port = await freePort();
    assert.ok(port > 1024 && port < 65536, `port ${port}`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
