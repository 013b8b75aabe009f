// Metric hygiene, after the Prometheus naming guide: units in names, base units (seconds,
// bytes) except where the operations guide fixes milliseconds, _total on counters only; and no
// label whose values come from traffic without a bound. The second part drives hostile traffic
// (hundreds of distinct paths, close codes and backend statuses) through a sidecar and checks
// that every label value it exported stays in its closed set.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import WebSocket from 'ws';
import {
  CLOSE_INITIATORS,
  DIRECTIONS,
  HANDSHAKE_FAILURE_REASONS,
  METRICS,
  TRANSPORTS,
} from '../../proxy/metrics/definitions.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../helpers/http-server.js';

const STATUS_CLASSES = ['', '1xx', '2xx', '3xx', '4xx', '5xx', 'other'];
const CLOSE_CODES = [...Array.from({ length: 16 }, (_, i) => String(1000 + i)), '3xxx', '4xxx', 'other'];

/** The closed set of each label of the core metrics (WebSocket, SSE, long-poll, HTTP). */
const BOUNDS: Readonly<Record<string, readonly string[]>> = {
  reason: [...HANDSHAKE_FAILURE_REASONS, 'header_overflow', 'client_reset'],
  status_class: STATUS_CLASSES,
  code: CLOSE_CODES,
  initiator: CLOSE_INITIATORS,
  direction: DIRECTIONS,
  peer: ['client', 'server'],
  stat: ['max', 'sum'],
  transport: TRANSPORTS,
  le: [],
};

describe('metric names follow the Prometheus naming guide', () => {
  const all = Object.values(METRICS);
  it('counters, and only counters, end in _total', () => {
    assert.deepEqual(
      all.filter((m) => (m.type === 'counter') !== m.name.endsWith('_total')).map((m) => m.name),
      [],
    );
  });
  it('durations are in seconds and sizes in bytes; ws_handshake_duration_ms is the one exception', () => {
    const histograms = all.filter((m) => m.type === 'histogram').map((m) => m.name);
    assert.deepEqual(
      histograms.filter((n) => !/_(seconds|bytes)$/.test(n)),
      ['ws_handshake_duration_ms'],
    );
    assert.deepEqual(
      all.filter((m) => /_(ms|milliseconds|minutes|hours|kb|mb)(_|$)/.test(m.name)).map((m) => m.name),
      ['ws_handshake_duration_ms'],
    );
  });
});

describe('no unbounded label under hostile traffic', { timeout: 60_000 }, () => {
  let backend: http.Server;
  let sidecar: TestSidecar;
  before(async () => {
    const wss = new WebSocketServer({ noServer: true });
    // /status/NNN answers the upgrade with NNN; anything else upgrades and echoes.
    backend = http.createServer((req, res) => {
      const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
      res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'text/plain' });
      res.end('x');
    });
    backend.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
      if (m) {
        socket.end(`HTTP/1.1 ${m[1]} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(d)));
    });
    const backendPort = await listenLoopback(backend);
    sidecar = await startTestSidecar(backendPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  it('keeps every exported label value in its closed set', async () => {
    const base = sidecar.url.replace('http', 'ws');
    // 120 connections on distinct paths, closed with distinct codes (1000-1015, 3000+, 4000+).
    const codes = [
      ...Array.from({ length: 16 }, (_, i) => 1000 + i),
      ...Array.from({ length: 52 }, (_, i) => 3000 + i * 19),
      ...Array.from({ length: 52 }, (_, i) => 4000 + i * 19),
    ].filter((c) => ![1004, 1005, 1006, 1015].includes(c));
    for (const [i, code] of codes.entries()) {
      const ws = new WebSocket(`${base}/room/${i}-${Math.random().toString(36).slice(2)}?user=${i}`, {
        headers: { 'user-agent': `agent-${i}`, 'x-client-id': `client-${i}` },
      });
      await once(ws, 'open');
      ws.send(`hello ${i}`);
      await once(ws, 'message');
      ws.close(code === 1001 || code < 3000 ? 1000 : code, `reason ${i}`);
      await once(ws, 'close');
    }
    // Upgrades the backend answers with every status from 200 to 599 (one of each), and plain
    // HTTP requests with random paths.
    for (let status = 200; status < 600; status += 7) {
      const ws = new WebSocket(`${base}/status/${status}`);
      ws.on('error', () => {});
      await new Promise((r) => ws.on('close', r));
    }
    for (const [i, status] of [
      200, 201, 301, 302, 400, 401, 403, 404, 418, 429, 500, 502, 503, 504,
    ].entries()) {
      const res = await fetch(`${sidecar.url}/status/${status}?q=${i}-${Math.random()}`, {
        redirect: 'manual',
      });
      assert.equal(res.status, status);
      await res.arrayBuffer();
    }

    const text = await sidecar.ctx.metrics.exposition();
    const ours = new Set(
      Object.values(METRICS)
        // The protocol decoders' metrics (engineio_*, socketio_*) bound their own labels.
        .filter((m) => !/^(engineio|socketio)_/.test(m.name) && m.labels.every((l) => l in BOUNDS))
        .flatMap((m) =>
          m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
        ),
    );
    const outside: string[] = [];
    let checked = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)\{(.*)\} /.exec(line);
      if (!m || !ours.has(m[1])) continue;
      for (const [, label, value] of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        checked++;
        if (label === 'le') continue;
        if (!BOUNDS[label]?.includes(value)) outside.push(`${m[1]}{${label}="${value}"}`);
      }
    }
    assert.deepEqual(outside, []);
    assert.ok(checked > 50, `${checked} label values checked`);
    // The traffic was as varied as intended: 4xxx and 3xxx bucketed, statuses by class.
    assert.ok(text.includes('ws_close_total{code="4xxx",initiator="client"}'));
    assert.ok(text.includes('ws_handshake_failures_total{reason="upstream_rejected",status_class="5xx"}'));
  });
});
