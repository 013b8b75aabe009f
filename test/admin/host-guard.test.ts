/**
 * The admin server answers only Hosts a DNS rebinding cannot produce. nginx has no such guard
 * by default (its server_name only picks a server block); a metrics endpoint on loopback with
 * /connections is worth one, so we refuse unknown names with 421 Misdirected Request.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startTestSidecar } from '../helpers/sidecar.js';

function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('admin server Host guard', () => {
  it('refuses a foreign Host and answers IPs, localhost and the allowed names', async () => {
    const sidecar = await startTestSidecar(1, { adminAllowHosts: ['sidecar-1'] });
    try {
      const port = new URL(sidecar.adminUrl!).port;
      for (const path of ['/metrics', '/connections', '/healthz']) {
        const evil = await getWithHost(`${sidecar.adminUrl}${path}`, `evil.example:${port}`);
        assert.equal(evil.status, 421, path);
        assert.doesNotMatch(evil.body, /ws_connections|connections"/);
      }
      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `[::1]:${port}`,
        'sidecar-1:9464',
        '10.0.0.7',
      ]) {
        assert.equal((await getWithHost(`${sidecar.adminUrl}/healthz`, host)).status, 200, host);
      }
      assert.equal((await getWithHost(`${sidecar.adminUrl}/healthz`, 'sidecar-2')).status, 421);
    } finally {
      await sidecar.close();
    }
  });

  it('answers a request with no Host header (an HTTP/1.0 health check such as HAProxy httpchk)', async () => {
    const sidecar = await startTestSidecar(1);
    try {
      const { port } = new URL(sidecar.adminUrl!);
      const sock = net.connect(Number(port), '127.0.0.1');
      sock.write('GET /healthz HTTP/1.0\r\n\r\n');
      let answer = '';
      sock.setEncoding('utf8').on('data', (c: string) => {
        answer += c;
      });
      await new Promise((resolve) => sock.on('close', resolve));
      assert.equal(answer.split('\r\n')[0], 'HTTP/1.1 200 OK');
    } finally {
      await sidecar.close();
    }
  });
});
