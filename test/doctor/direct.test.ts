// `socketlens doctor` straight against a real `ws` server that does not echo: subprotocol
// negotiation with repeated --protocol, and a round trip with a pong but no reply, which is
// reported and is not a failure.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { checkOf, parseReport } from './report-shape.js';
import { runDoctorCli } from './run-cli.js';

describe('doctor against a non-echo server', { timeout: 20_000 }, () => {
  let wss: WebSocketServer;
  let url: string;

  before(async () => {
    // Picks the last protocol it knows, like a server preferring its newest version.
    wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false),
    });
    wss.on('connection', (ws) => ws.on('error', () => {}));
    await once(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/chat`;
  });

  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  it('reports the selected subprotocol, a pong, and "no reply" without failing', async () => {
    const r = await runDoctorCli([
      url,
      '--json',
      '--protocol',
      'chat.v1',
      '--protocol',
      'chat.v2',
      '--timeout',
      '1s',
      '--sse',
      'none',
      '--poll',
      'none',
    ]);
    assert.equal(r.code, 0, r.stdout);
    const report = parseReport(r.stdout);
    const negotiation = checkOf(report, 'ws.negotiation');
    assert.equal(negotiation.status, 'ok');
    assert.deepEqual(negotiation.data, {
      protocolsOffered: ['chat.v1', 'chat.v2'],
      protocolSelected: 'chat.v2',
      extensionsOffered: 'permessage-deflate; client_max_window_bits',
      extensionsNegotiated: null,
    });
    assert.equal(negotiation.summary, 'subprotocol chat.v2; no extension (offered permessage-deflate)');
    const rt = checkOf(report, 'ws.roundtrip');
    assert.equal(rt.status, 'ok');
    assert.equal(rt.data.reply, null);
    assert.equal(rt.data.replyMs, null);
    assert.equal(typeof rt.data.pingRttMs, 'number');
    assert.match(
      rt.summary,
      /^ping→pong [\d.]+ ms, no reply to a text frame within 1000 ms \(fine unless the server echoes\)$/,
    );
    assert.equal(report.verdict.transport, 'websocket');
    assert.equal(report.verdict.healthy, true);
  });

  it('flags a server that picks no subprotocol when some were offered', async () => {
    const r = await runDoctorCli([
      url,
      '--json',
      '--protocol',
      'chat.v1',
      '--timeout',
      '1s',
      '--sse',
      'none',
      '--poll',
      'none',
    ]);
    assert.equal(r.code, 0);
    const negotiation = checkOf(parseReport(r.stdout), 'ws.negotiation');
    assert.equal(negotiation.status, 'warn');
    assert.equal(negotiation.data.protocolSelected, null);
  });
});
