import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import WebSocket from 'ws';
import { SPAN_ATTRIBUTES } from '../../proxy/telemetry/tracing.js';
import { waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

describe('a span per connection', () => {
  const exporter = new InMemorySpanExporter();
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port);
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
    trace.disable();
    propagation.disable();
  });

  it('records ws.connection with handshake and close events, close attributes, and injects traceparent', async () => {
    const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/ws?room=7`, {
      headers: { 'user-agent': 'tracing-test/1.0', 'x-forwarded-for': '203.0.113.9, 10.0.0.2' },
    });
    await once(ws, 'open');
    ws.send('hello');
    await once(ws, 'message');
    ws.close(1000);
    await once(ws, 'close');
    await waitUntil(() => exporter.getFinishedSpans().length === 1, 3000, 'span');
    const span = exporter.getFinishedSpans()[0];
    assert.equal(span.name, 'ws.connection');
    assert.deepEqual(
      span.events.map((e) => e.name),
      ['handshake', 'close'],
    );
    const port = Number(new URL(sidecar.url).port);
    const { attributes: a } = span;
    assert.equal(a['server.address'], '127.0.0.1');
    assert.equal(a['server.port'], port);
    assert.equal(a['client.address'], '203.0.113.9');
    assert.equal(a['network.peer.address'], '127.0.0.1');
    assert.equal(typeof a['network.peer.port'], 'number');
    assert.equal(a['network.transport'], 'tcp');
    assert.equal(a['network.protocol.name'], 'http');
    assert.equal(a['network.protocol.version'], '1.1');
    assert.equal(a['http.request.method'], 'GET');
    assert.equal(a['http.response.status_code'], 101);
    assert.equal(a['url.path'], '/ws');
    assert.equal(a['user_agent.original'], 'tracing-test/1.0');
    assert.equal(a['socketlens.transport'], 'websocket');
    assert.equal(a['socketlens.close.reason'], 'client_close');
    assert.equal(a['error.type'], undefined);
    // Every attribute the span carries is one the README documents (SPAN_ATTRIBUTES).
    assert.deepEqual(
      Object.keys(a).filter((k) => !(SPAN_ATTRIBUTES as readonly string[]).includes(k)),
      [],
    );
    assert.equal(span.attributes['socketlens.close.code'], 1000);
    assert.equal(span.attributes['socketlens.close.initiator'], 'client');
    assert.equal(span.attributes['socketlens.messages_in'], 1);
    assert.equal(span.attributes['socketlens.messages_out'], 1);
    assert.equal(span.attributes['socketlens.bytes_in'], sidecar.logs[0].bytes_in);
    assert.equal(span.attributes['socketlens.bytes_out'], sidecar.logs[0].bytes_out);
    const traceparent = String(backend.requests[0].headers.traceparent);
    assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(traceparent.split('-')[1], span.spanContext().traceId);
    assert.equal(sidecar.logs[0].trace_id, span.spanContext().traceId);
  });
});
