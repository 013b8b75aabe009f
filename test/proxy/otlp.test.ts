import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

describe('OTLP export', () => {
  it('exports ws.connection spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const bodies: Array<{ path: string; body: string }> = [];
    const collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const backend = await startWsBackend();
    const sidecar = await spawnSidecar(backend.port, {
      args: ['--log', 'off'],
      env: {
        ...process.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
    });
    const { child, port } = sidecar;
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      await once(ws, 'open');
      ws.close(1000);
      await once(ws, 'close');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.equal((await exited)[0], 0);
      const traces = bodies.filter((b) => b.path === '/v1/traces');
      assert.equal(
        traces.length >= 1,
        true,
        `collector got ${bodies.map((b) => b.path).join(', ') || 'nothing'}`,
      );
      assert.match(traces.map((t) => t.body).join(''), /ws\.connection/);
      const traceparent = String(backend.requests[0].headers.traceparent);
      assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally {
      sidecar.child.kill('SIGKILL');
      await backend.close();
      collector.close();
    }
  });
});
