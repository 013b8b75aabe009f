// Exemplars end to end: a sidecar exporting spans to a loopback OTLP receiver, scraped by the
// real Prometheus with exemplar storage on. The exemplars Prometheus stored for the handshake
// and connection-duration histograms carry trace ids of spans the sidecar exported.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { startPrometheus } from '../../lab/runner/components/prometheus.js';
import { startOtlpCollector } from '../helpers/otlp-collector.js';
import { waitUntil } from '../helpers/raw.js';
import { spawnSidecar } from '../helpers/sidecar-child.js';
import { startWsBackend } from '../helpers/ws-backend.js';

const CONNECTIONS = 3;

describe('exemplars in the real Prometheus', { timeout: 60_000 }, () => {
  it('links handshake and connection-duration observations to exported spans by trace id', async () => {
    const collector = await startOtlpCollector();
    const backend = await startWsBackend();
    const sidecar = await spawnSidecar(backend.port, {
      args: ['--log', 'off'],
      env: {
        ...process.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'exemplar-test',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    const prom = await startPrometheus({
      targets: [new URL(sidecar.adminUrl).host],
      features: ['exemplar-storage'],
    });
    try {
      const start = Math.floor(Date.now() / 1000) - 5;
      for (let i = 0; i < CONNECTIONS; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/chat`);
        await once(ws, 'open');
        ws.close(1000);
        await once(ws, 'close');
      }
      await waitUntil(() => collector.spans.length === CONNECTIONS, 10_000, 'spans exported');
      const exported = new Set(collector.spans.map((s) => s.traceId));
      const read = async (metric: string) =>
        (await prom.exemplars(metric, start, Math.ceil(Date.now() / 1000) + 5)).flatMap((s) =>
          s.exemplars.map((e) => e.labels.trace_id),
        );
      let handshake: string[] = [];
      let duration: string[] = [];
      await waitUntil(
        async () => {
          handshake = await read('ws_handshake_duration_ms_bucket');
          duration = await read('ws_connection_duration_seconds_bucket');
          return handshake.length > 0 && duration.length > 0;
        },
        20_000,
        'exemplars scraped',
      );
      for (const id of [...handshake, ...duration])
        assert.equal(exported.has(id), true, `trace ${id} not exported`);
      assert.equal(collector.spans[0].resource['service.name'], 'exemplar-test');
    } finally {
      await prom.stop();
      await sidecar.stop(5000);
      await backend.close();
      await collector.close();
    }
  });
});
