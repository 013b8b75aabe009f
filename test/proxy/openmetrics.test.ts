import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import { wantsOpenMetrics } from '../../proxy/metrics/openmetrics.js';
import { SidecarMetrics } from '../../proxy/metrics/registry.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('OpenMetrics exposition', () => {
  it('serves exemplars with the trace id on the handshake and connection-duration buckets', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    m.observeHandshake(3, TRACE);
    m.observeHandshake(1500, null);
    m.observeConnectionDuration(42, TRACE);
    m.closes.labels('1000', 'client').inc(2);
    const text = await m.openMetricsExposition();
    const lines = text.split('\n');
    // The 3 ms observation falls in le=5 (the first bound at or above it); only it has a trace.
    const withExemplar = lines.filter((l) => l.includes(' # {'));
    assert.equal(withExemplar.length, 2);
    assert.match(
      withExemplar[0],
      new RegExp(
        `^ws_handshake_duration_ms_bucket\\{le="5"\\} 1 # \\{trace_id="${TRACE}"\\} 3 \\d+(\\.\\d+)?$`,
      ),
    );
    assert.match(
      withExemplar[1],
      new RegExp(
        `^ws_connection_duration_seconds_bucket\\{le="45"\\} 1 # \\{trace_id="${TRACE}"\\} 42 \\d+(\\.\\d+)?$`,
      ),
    );
    // Counter families are named without _total, their samples with it; the text ends with # EOF.
    assert.ok(lines.includes('# TYPE ws_close counter'));
    assert.ok(lines.includes('ws_close_total{code="1000",initiator="client"} 2'));
    assert.equal(lines.at(-2), '# EOF');
    assert.equal(sumSamples(text, 'ws_handshake_duration_ms_count'), 2);
    // The Prometheus text format afterwards is unchanged: no exemplars, counter names intact.
    const plain = await m.exposition();
    assert.equal(plain.includes(' # {'), false);
    assert.equal(sumSamples(plain, 'ws_close_total', { code: '1000' }), 2);
  });

  it('is chosen from the Accept header as Prometheus sends it', () => {
    assert.equal(
      wantsOpenMetrics(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
      true,
    );
    assert.equal(wantsOpenMetrics('text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5'), false);
    assert.equal(wantsOpenMetrics('application/openmetrics-text;q=0'), false);
    assert.equal(wantsOpenMetrics('*/*'), false);
    assert.equal(wantsOpenMetrics(undefined), false);
  });
});
