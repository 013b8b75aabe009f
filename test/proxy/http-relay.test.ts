/**
 * The plain-HTTP relay, byte by byte: what the target receives (the client's header order and
 * case, hop-by-hop headers dropped, X-Forwarded-* appended, the client id), what the client gets
 * back (the target's head less its own leg's headers, the body re-framed by the sidecar), a
 * chunked request body, and a target that breaks off mid-body.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../helpers/http-server.js';

describe('HTTP relay: heads and bodies as they cross', () => {
  let backend: http.Server;
  let sidecar: TestSidecar;
  const seen: Array<{ raw: string[]; body: string }> = [];
  before(async () => {
    backend = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ raw: req.rawHeaders, body });
        if (req.url === '/broken') {
          // Promise 100 bytes, send 10, then cut the connection.
          res.writeHead(200, { 'Content-Length': '100' });
          res.write('0123456789');
          setTimeout(() => res.socket?.destroy(), 50);
          return;
        }
        // Chunked, with the target's own Connection and Keep-Alive headers.
        res.writeHead(201, 'Made', [
          'X-Case-Kept',
          'yes',
          'Connection',
          'keep-alive',
          'Keep-Alive',
          'timeout=60',
          'Set-Cookie',
          'a=1',
          'Set-Cookie',
          'b=2',
        ]);
        res.write('part1,');
        res.end(`part2:${body}`);
      });
    });
    const backendPort = await listenLoopback(backend);
    sidecar = await startTestSidecar(backendPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  async function exchange(request: string, until: (got: string) => boolean): Promise<string> {
    const sock = net.connect(sidecar.port, '127.0.0.1');
    await once(sock, 'connect');
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      got += c;
    });
    sock.write(request);
    await waitUntil(() => until(got), 5000, 'the response');
    sock.destroy();
    return got;
  }

  it('forwards the head in the client’s order and case, less hop-by-hop, plus X-Forwarded-* and the client id', async () => {
    seen.length = 0;
    const got = await exchange(
      'POST /echo?q=1 HTTP/1.1\r\nHost: app.example:8080\r\nX-Mixed-Case: One\r\nX-Hop-Only: 1\r\nConnection: keep-alive, X-Hop-Only\r\n' +
        'Proxy-Connection: keep-alive\r\nTrailer: X-T\r\nX-Forwarded-For: 203.0.113.9\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
      (g) => g.endsWith('\r\n0\r\n\r\n'),
    );
    assert.equal(seen.length, 1);
    const raw = seen[0].raw;
    const names = raw.filter((_, i) => i % 2 === 0);
    assert.deepEqual(names.slice(0, 3), ['Host', 'X-Mixed-Case', 'Transfer-Encoding']);
    const header = (n: string) => raw[raw.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === n) + 1];
    assert.equal(header('host'), 'app.example:8080');
    assert.equal(header('x-forwarded-for'), '203.0.113.9,127.0.0.1');
    assert.equal(header('x-forwarded-port'), '8080');
    assert.equal(header('x-forwarded-proto'), 'http');
    assert.equal(header('x-forwarded-host'), 'app.example:8080');
    assert.equal(header('connection'), 'keep-alive');
    assert.match(header('x-client-id') ?? '', /.+/);
    // X-Hop-Only is named in the client's Connection header, so it is for the client's leg only.
    for (const gone of ['proxy-connection', 'trailer', 'keep-alive', 'x-hop-only'])
      assert.equal(
        names.some((n) => n.toLowerCase() === gone),
        false,
        gone,
      );
    assert.equal(seen[0].body, 'hello world');

    // The client gets the target's status line and headers in their case, Set-Cookie twice, not
    // the target's Keep-Alive; the body arrives whole (re-chunked by the sidecar).
    assert.match(got, /^HTTP\/1\.1 201 Made\r\n/);
    assert.match(got, /\r\nX-Case-Kept: yes\r\n/);
    assert.equal(got.match(/\r\nSet-Cookie: /g)?.length, 2);
    assert.doesNotMatch(got, /\r\nKeep-Alive: timeout=60\r\n/);
    const body = got
      .slice(got.indexOf('\r\n\r\n') + 4)
      .split('\r\n')
      .filter((_, i) => i % 2 === 1)
      .join('');
    assert.equal(body, 'part1,part2:hello world');
  });

  it('a target that breaks off mid-body: the client connection is cut, not left waiting', async () => {
    const sock = net.connect(sidecar.port, '127.0.0.1');
    await once(sock, 'connect');
    let got = '';
    let closed = false;
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      got += c;
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
    });
    sock.write('GET /broken HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => closed, 5000, 'the client connection to close');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /\r\nContent-Length: 100\r\n/i);
    assert.ok(got.endsWith('\r\n\r\n0123456789'), got);
  });
});
