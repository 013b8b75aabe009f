import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { EventBoundaryCounter } from '../../proxy/http/stream.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { listenLoopback, closeHttpServer } from '../helpers/http-server.js';

describe('HTTP, SSE and long-poll pass through', () => {
  let backend: http.Server;
  let sidecar: TestSidecar;
  const seen: IncomingMessage[] = [];
  before(async () => {
    backend = http.createServer((req, res) => {
      seen.push(req);
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const t = setInterval(() => {
          n++;
          res.write(`id: ${n}\r\ndata: event ${n}\r\n\r\n`);
          if (n === 3) {
            clearInterval(t);
            res.end();
          }
        }, 150);
        return;
      }
      if (req.url?.startsWith('/poll')) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"messages":[]}');
        }, 200);
        return;
      }
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain', 'x-Backend': 'yes' });
        res.end(`${req.method} ${req.url} ${body}`);
      });
    });
    const backendPort = await listenLoopback(backend);
    sidecar = await startTestSidecar(backendPort);
  });
  after(async () => {
    await sidecar.close();
    closeHttpServer(backend);
  });

  it('passes methods, bodies and headers, and adds X-Forwarded-*', async () => {
    const res = await fetch(`${sidecar.url}/things?id=7`, {
      method: 'POST',
      body: 'payload',
      headers: { 'x-client-id': 'bob' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-backend'), 'yes');
    assert.equal(await res.text(), 'POST /things?id=7 payload');
    const req = seen.at(-1)!;
    assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(req.headers['x-forwarded-proto'], 'http');
    assert.equal(req.headers['x-forwarded-host'], `127.0.0.1:${sidecar.port}`);
    assert.equal(req.headers['x-client-id'], 'bob');
    assert.equal(
      await sidecar.metric('socketlens_http_requests_total', { transport: 'http', status_class: '2xx' }),
      1,
    );
  });

  it('streams SSE without buffering and counts events and the stream', async () => {
    const t0 = performance.now();
    const res = await fetch(`${sidecar.url}/sse`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - t0;
    assert.match(new TextDecoder().decode(first.value), /data: event 1/);
    assert.ok(firstAt < 400, `first event after ${Math.round(firstAt)} ms (the stream lasts 450 ms)`);
    assert.equal(await sidecar.metric('sse_streams_active'), 1);
    while (!(await reader.read()).done) {}
    await waitUntil(() => sidecar.logs.some((l) => l.transport === 'sse'), 3000, 'sse log');
    assert.equal(await sidecar.metric('sse_events_sent_total'), 3);
    assert.equal(await sidecar.metric('sse_streams_active'), 0);
    assert.equal(await sidecar.metric('sse_stream_duration_seconds'), 1);
    const log = sidecar.logs.find((l) => l.transport === 'sse')!;
    assert.equal(log.messages_out, 3);
    assert.equal(log.initiator, 'server');
  });

  it('tracks a long-poll from request to answer', async () => {
    const pending = fetch(`${sidecar.url}/poll?since=3`);
    await waitUntil(
      async () => (await sidecar.metric('longpoll_requests_active')) === 1,
      2000,
      'active poll',
    );
    const res = await pending;
    assert.equal(await res.text(), '{"messages":[]}');
    await waitUntil(async () => (await sidecar.metric('longpoll_requests_active')) === 0, 2000, 'poll done');
    assert.equal(await sidecar.metric('longpoll_responses_total', { status_class: '2xx' }), 1);
    const log = sidecar.logs.find((l) => l.transport === 'longpoll')!;
    assert.ok(log.duration_ms >= 190, `waited ${log.duration_ms} ms`);
  });
});

describe('EventBoundaryCounter', () => {
  it('counts events ended by LF LF, CRLF CRLF and CR CR, split at every offset', () => {
    const text = 'data: a\n\ndata: b\r\n\r\n: comment\n\ndata: c\r\rdata: d\nid: 1\n\n';
    for (let at = 0; at <= text.length; at++) {
      const c = new EventBoundaryCounter();
      c.push(Buffer.from(text.slice(0, at)));
      c.push(Buffer.from(text.slice(at)));
      assert.equal(c.events, 5, `split at ${at}`);
    }
  });
});
