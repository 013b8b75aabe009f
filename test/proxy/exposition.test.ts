import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sumSamples } from '../../proxy/metrics/exposition.js';
import { SidecarMetrics } from '../../proxy/metrics/registry.js';

describe('reading /metrics text back', () => {
  it('sums the matching samples, reads histograms by count or by series, and says when a metric is absent', async () => {
    const m = new SidecarMetrics({ defaultMetrics: false });
    m.closes.labels('1000', 'client').inc(2);
    m.closes.labels('1006', 'server').inc(3);
    m.observeHandshake(3, null);
    m.observeHandshake(1500, null);
    const text = await m.exposition();
    assert.equal(sumSamples(text, 'ws_close_total'), 5);
    assert.equal(sumSamples(text, 'ws_close_total', { code: '1006' }), 3);
    assert.equal(sumSamples(text, 'ws_close_total', { code: '4xxx' }), 0);
    assert.equal(sumSamples(text, 'ws_handshake_duration_ms'), 2);
    assert.equal(sumSamples(text, 'ws_handshake_duration_ms_bucket', { le: '1000' }), 1);
    assert.equal(sumSamples(text, 'ws_handshake_duration_ms_sum'), 1503);
    assert.equal(sumSamples(text, 'no_such_metric'), null);
  });
});
