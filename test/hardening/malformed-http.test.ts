import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

async function send(port: number, text: string): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await once(sock, 'connect');
  sock.write(text);
  let got = '';
  sock.on('data', (c) => {
    got += c;
  });
  await once(sock, 'close');
  return got;
}

describe('malformed HTTP never crashes the sidecar', () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port);
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
  });

  it('answers oversize headers with 431 and counts header_overflow', async () => {
    const got = await send(
      sidecar.port,
      `GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(got, /^HTTP\/1\.1 431 /);
    assert.equal(await sidecar.metric('socketlens_client_errors_total', { reason: 'header_overflow' }), 1);
  });

  it('answers a bad request line with 400 and counts bad_request', async () => {
    const got = await send(sidecar.port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 400 /);
    assert.equal(await sidecar.metric('socketlens_client_errors_total', { reason: 'bad_request' }), 1);
  });

  it('refuses a request without Host with 400', async () => {
    const got = await send(
      sidecar.port,
      'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 400 /);
    assert.equal(backend.requests.length, 0);
    assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'bad_request' }), 1);
  });

  it('still proxies normally afterwards', async () => {
    const res = await fetch(`${sidecar.url}/plain`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'plain\n');
  });
});
