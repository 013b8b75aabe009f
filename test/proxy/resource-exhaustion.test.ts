/**
 * The sidecar's own file descriptors run out (EMFILE): a sidecar child whose descriptor limit is
 * lowered with prlimit(1) while it runs, then filled with idle client connections one at a time.
 * With exactly one descriptor left, a new client is accepted but its backend socket cannot be
 * opened: that is our exhaustion, not the backend's, and must say so (503, its own reason and
 * metric, a stderr line), on the plain-HTTP path as on the upgrade path.
 *
 * nginx answers a failed upstream connect with 502 whatever the errno, and logs "(24: Too many
 * open files)" in its error log. We answer 503 (the proxy is unavailable, retry) because the
 * backend is fine and a 502 would send an operator to the wrong service.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { spawnSidecar } from '../helpers/sidecar-child.js';

/** A backend that closes every plain connection after its answer and accepts WebSocket upgrades. */
async function startBackend(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end('plain\n');
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One plain request on its own connection: the status, or 0 when the connection was cut without an answer. */
function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      data += c;
    });
    s.on('error', () => {});
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.write('GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    setTimeout(() => s.destroy(), 5000);
  });
}

describe('resource exhaustion in the sidecar', () => {
  it('answers 503 with its own reason on both paths when its descriptors run out, not 502 upstream_unavailable', async () => {
    const backend = await startBackend();
    // No idle keep-alive sockets to the backend: each request opens its own.
    const sidecar = await spawnSidecar(backend.port, { args: ['--upstream-idle-sockets', '0'] });
    const holders: net.Socket[] = [];
    try {
      const base = await sidecar.baselineFds();
      // Only the soft limit: it can be raised back without privileges.
      const soft = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${sidecar.pid}/limits`, 'utf8'))![1];
      execFileSync('prlimit', ['--pid', String(sidecar.pid), `--nofile=${base + 6}:`]);
      // Fill the descriptors one idle client at a time; after each, a plain request on a new
      // connection needs two more (its client socket and its backend socket).
      const statuses: number[] = [];
      let level = 0;
      for (let i = 0; i < 12; i++) {
        const fds = sidecar.fds();
        level = fds;
        const status = await probe(sidecar.port);
        statuses.push(status);
        // The probe's sockets are closed again before the next step.
        await waitUntil(() => sidecar.fds() === fds, 5000, 'the probe closed');
        if (status !== 200) break;
        const h = net.connect(sidecar.port, '127.0.0.1');
        h.on('error', () => {});
        holders.push(h);
        await waitUntil(() => sidecar.fds() > fds, 5000, 'the idle client accepted');
      }
      // With one descriptor left the client is accepted and the backend socket fails.
      assert.equal(statuses.at(-1), 503, `statuses ${statuses.join(',')}`);
      assert.ok(statuses.slice(0, -1).every((s) => s === 200));
      // The same state for an upgrade.
      const ws = await rawUpgrade(sidecar.port, '/ws');
      assert.equal(ws.status, 503);
      ws.socket.destroy();
      await waitUntil(() => sidecar.fds() === level, 5000, 'the refused upgrade closed');
      // No descriptor at all: libuv resets the client inside accept(); nothing reaches us.
      const fds = sidecar.fds();
      const last = net.connect(sidecar.port, '127.0.0.1');
      last.on('error', () => {});
      holders.push(last);
      await waitUntil(() => sidecar.fds() > fds, 5000, 'the last descriptor taken');
      assert.equal(await probe(sidecar.port), 0);

      for (const h of holders) h.destroy();
      await waitUntil(() => sidecar.fds() <= base, 5000, 'descriptors back');
      execFileSync('prlimit', ['--pid', String(sidecar.pid), `--nofile=${soft}:`]);
      assert.equal(
        await sidecar.metric('socketlens_resource_exhaustion_total', { where: 'http', code: 'EMFILE' }),
        1,
      );
      assert.equal(
        await sidecar.metric('socketlens_resource_exhaustion_total', { where: 'upgrade', code: 'EMFILE' }),
        1,
      );
      // The accept fallback's reset cannot be seen from the process (see proxy/resources.ts).
      assert.equal(await sidecar.metric('socketlens_resource_exhaustion_total', { where: 'accept' }), 0);
      assert.equal(await sidecar.metric('ws_handshake_failures_total', { reason: 'resource_exhausted' }), 1);
      assert.equal(
        await sidecar.metric('ws_handshake_failures_total', { reason: 'upstream_unavailable' }),
        0,
      );
      assert.equal(
        await sidecar.metric('socketlens_http_requests_total', { transport: 'http', status_class: '5xx' }),
        1,
      );
      const lines = sidecar
        .stderr()
        .split('\n')
        .filter((l) => l.includes('resource exhausted'));
      assert.deepEqual(lines, [
        'socketlens: resource exhausted (EMFILE) while connecting to the backend for a request; answering 503',
        'socketlens: resource exhausted (EMFILE) while connecting to the backend for an upgrade; answering 503',
      ]);
      await waitUntil(() => sidecar.logs.length === 1, 5000, 'the failed upgrade logged');
      assert.deepEqual(
        [sidecar.logs[0].reason, sidecar.logs[0].detail, sidecar.logs[0].status],
        ['resource_exhausted', 'EMFILE', 503],
      );
      // The process is healthy once descriptors are free again.
      assert.equal(await probe(sidecar.port), 200);
    } finally {
      for (const h of holders) h.destroy();
      await sidecar.stop();
      await backend.close();
    }
  });
});
