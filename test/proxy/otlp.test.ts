import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { tracingPlan } from '../../proxy/telemetry/otel-setup.js';
import { startOtlpCollector } from '../helpers/otlp-collector.js';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

/** Runs a sidecar child with `env`, opens and closes one WebSocket, stops it (flushing spans). */
async function oneConnection(otelEnv: Record<string, string>) {
  const collector = await startOtlpCollector();
  const backend = await startWsBackend();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    ...otelEnv,
  };
  for (const k of Object.keys(env))
    if (k.startsWith('OTEL_') && k !== 'OTEL_EXPORTER_OTLP_ENDPOINT' && !(k in otelEnv)) delete env[k];
  const sidecar = await spawnSidecar(backend.port, { args: ['--log', 'off'], env });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
    await once(ws, 'open');
    ws.close(1000);
    await once(ws, 'close');
    assert.equal(await sidecar.stop(10_000), 0);
    const traceparent = String(backend.requests[0].headers.traceparent);
    return { collector, traceparent, pid: sidecar.pid };
  } finally {
    sidecar.child.kill('SIGKILL');
    await backend.close();
    await collector.close();
  }
}

describe('OTLP export', () => {
  it('http/json: spans carry OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the process and host detectors', async () => {
    const { collector, traceparent, pid } = await oneConnection({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'chat-sidecar',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,service.namespace=chat',
    });
    assert.deepEqual(
      collector.requests.map((r) => [r.path, r.contentType]),
      [['/v1/traces', 'application/json']],
    );
    assert.equal(collector.spans.length, 1);
    const [span] = collector.spans;
    assert.equal(span.name, 'ws.connection');
    assert.equal(span.traceId, traceparent.split('-')[1]);
    assert.equal(span.resource['service.name'], 'chat-sidecar');
    assert.equal(span.resource['service.namespace'], 'chat');
    assert.equal(span.resource['deployment.environment.name'], 'staging');
    assert.equal(span.resource['process.pid'], pid);
    assert.equal(span.resource['process.runtime.name'], 'nodejs');
    assert.equal(typeof span.resource['host.name'], 'string');
    assert.equal(span.resource['telemetry.sdk.language'], 'nodejs');
    // The command line may carry secrets (--jwt-key): it is never exported.
    assert.equal('process.command_args' in span.resource, false);
    assert.equal(span.attributes['url.path'], '/ws');
    assert.equal(span.attributes['socketlens.close.code'], 1000);
  });

  it('http/protobuf is the default protocol; service.name from OTEL_RESOURCE_ATTRIBUTES', async () => {
    const { collector, traceparent } = await oneConnection({
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing-sidecar',
    });
    assert.deepEqual(
      collector.requests.map((r) => [r.path, r.contentType]),
      [['/v1/traces', 'application/x-protobuf']],
    );
    assert.equal(collector.spans.length, 1);
    assert.equal(collector.spans[0].resource['service.name'], 'billing-sidecar');
    assert.equal(collector.spans[0].traceId, traceparent.split('-')[1]);
    assert.equal(collector.spans[0].attributes['server.address'], '127.0.0.1');
  });

  it('without a service name set, spans say socketlens, not unknown_service', async () => {
    const { collector } = await oneConnection({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    assert.equal(collector.spans[0].resource['service.name'], 'socketlens');
  });

  it('reads the standard switches, and refuses what it cannot honour', () => {
    assert.equal(tracingPlan({}), null);
    assert.deepEqual(tracingPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), {
      protocol: 'http/protobuf',
    });
    assert.deepEqual(
      tracingPlan({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }),
      {
        protocol: 'http/json',
      },
    );
    assert.equal(
      tracingPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
      null,
    );
    assert.equal(
      tracingPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
      null,
    );
    assert.throws(
      () =>
        tracingPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
      /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported: use http\/protobuf \(default\) or http\/json \(point the endpoint at the collector's HTTP port, usually 4318\)/,
    );
    assert.throws(
      () => tracingPlan({ OTEL_TRACES_EXPORTER: 'zipkin' }),
      /OTEL_TRACES_EXPORTER: "zipkin" is not supported/,
    );
  });
});
