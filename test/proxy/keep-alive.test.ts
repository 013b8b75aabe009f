/**
 * Keep-alive on the plain HTTP path: clients keep their connection and get every pipelined
 * answer in order (as nginx does), and the sidecar reuses its connections to the target through
 * a bounded keep-alive agent (nginx needs `keepalive N` in its upstream for that; we do it by
 * default, with --upstream-idle-sockets 0 to turn it off).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../helpers/http-server.js';

describe('HTTP keep-alive and pipelining', () => {
  let backend: http.Server;
  let backendConnections = 0;
  let sidecar: TestSidecar;
  before(async () => {
    backend = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        const text = `${req.method} ${req.url} ${body}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });
    backend.on('connection', () => backendConnections++);
    const backendPort = await listenLoopback(backend);
    sidecar = await startTestSidecar(backendPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  it('answers two pipelined requests (GET then POST in one write) in order and keeps the connection', async () => {
    const sock = net.connect(sidecar.port, '127.0.0.1');
    await once(sock, 'connect');
    let got = '';
    let ended = false;
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      got += c;
    });
    sock.on('end', () => {
      ended = true;
    });
    sock.write(
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello',
    );
    await waitUntil(() => got.includes('POST /b hello'), 5000, 'second response');
    const responses = got.split('HTTP/1.1 ').filter((r) => r !== '');
    assert.equal(responses.length, 2);
    assert.match(responses[0], /^200 /);
    assert.ok(responses[0].endsWith('\r\n\r\nGET /a '), responses[0]);
    assert.ok(responses[1].endsWith('\r\n\r\nPOST /b hello'), responses[1]);
    for (const r of responses) assert.doesNotMatch(r, /\r\nconnection: close\r\n/i);
    // The connection stays open for a third request.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ended, false);
    sock.write('GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await once(sock, 'end');
    assert.ok(got.endsWith('\r\n\r\nGET /c '), got);
    sock.destroy();
  });

  it('reuses its connections to the target', async () => {
    const agent = new http.Agent({ keepAlive: false });
    assert.equal(await fetchText(`${sidecar.url}/warm`, agent), 'GET /warm ');
    const before = backendConnections;
    for (let i = 0; i < 5; i++) {
      // A new client connection each time (no client keep-alive): only the sidecar's agent reuses.
      const res = await fetchText(`${sidecar.url}/n${i}`, agent);
      assert.equal(res, `GET /n${i} `);
    }
    // Five client connections, no new connection to the target.
    assert.equal(backendConnections - before, 0);
  });
});

function fetchText(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/**
 * A long-poll fleet: one publish answers every waiting poll at once, so that many target
 * connections come back to the agent at once. The default idle bound keeps them all, and the next
 * round of polls opens none (with a bound of 64, 136 of 200 were closed and opened again).
 */
describe('a long-poll fleet answered at once', () => {
  const POLLS = 200;
  let backend: http.Server;
  let backendConnections = 0;
  const waiting: http.ServerResponse[] = [];
  let sidecar: TestSidecar;
  before(async () => {
    backend = http.createServer((_req, res) => {
      waiting.push(res);
    });
    backend.on('connection', () => backendConnections++);
    sidecar = await startTestSidecar(await listenLoopback(backend));
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  /** Every client polls once; when all polls wait at the target, one publish answers them all. */
  async function round(agent: http.Agent, n: number): Promise<string[]> {
    const answers = Array.from({ length: POLLS }, (_, i) =>
      fetchText(`${sidecar.url}/poll?c=${i}&r=${n}`, agent),
    );
    await waitUntil(() => waiting.length === POLLS, 10_000, `${POLLS} polls waiting`);
    for (const res of waiting.splice(0)) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1 });
      res.end(String(n));
    }
    return Promise.all(answers);
  }

  it(`keeps all ${POLLS} target connections for the next round`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: POLLS });
    try {
      assert.deepEqual(new Set(await round(agent, 1)), new Set(['1']));
      assert.equal(backendConnections, POLLS);
      assert.deepEqual(new Set(await round(agent, 2)), new Set(['2']));
      assert.equal(backendConnections, POLLS, 'the second round opened new target connections');
    } finally {
      agent.destroy();
    }
  });
});
