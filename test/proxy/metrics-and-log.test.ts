import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../helpers/frames.js';
import { rawUpgrade, waitUntil } from '../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../helpers/ws-backend.js';

describe('metrics and the close log after scripted sessions', () => {
  let backend: WsBackend;
  let sidecar: TestSidecar;
  before(async () => {
    backend = await startWsBackend();
    sidecar = await startTestSidecar(backend.port, { clientIdHeader: 'x-client-id' });
  });
  after(async () => {
    await sidecar.close();
    await backend.close();
  });

  it('counts a client-closed session exactly', async () => {
    const client = await rawUpgrade(sidecar.port, '/ws?room=a&token=s3cret&client_id=ignored', {
      'X-Client-Id': 'alice',
    });
    assert.equal(client.status, 101);
    const frames = [
      ...['one', 'two', 'three', 'four', 'five'].map((p) =>
        frame({ opcode: Opcode.Text, payload: p, mask: true }),
      ),
      frame({ opcode: Opcode.Ping, payload: 'are you there', mask: true }),
    ];
    const sent = Buffer.concat(frames);
    client.socket.write(sent);
    // Five echoes (2 + len bytes each) and one pong (2 + 13).
    const echoBytes = [3, 3, 5, 4, 4].reduce((a, n) => a + 2 + n, 0) + 2 + 13;
    await client.recv.waitFor(echoBytes);
    const close = frame({ opcode: Opcode.Close, payload: closePayload(1000, 'done'), mask: true });
    client.socket.write(close);
    await waitUntil(() => sidecar.logs.length === 1, 3000, 'close log');
    // The backend answered the close with its own close frame (2 + 2 + 4 bytes).
    const bytesOut = echoBytes + 8;

    const m = (name: string, labels?: Record<string, string>) => sidecar.metric(name, labels);
    assert.equal(await m('ws_connections_active'), 0);
    assert.equal(await m('ws_connections_opened_total'), 1);
    assert.equal(await m('ws_handshake_duration_ms'), 1); // one observation
    assert.equal(await m('ws_messages_received_total'), 5);
    assert.equal(await m('ws_messages_sent_total'), 5);
    assert.equal(await m('ws_pings_total', { direction: 'client_to_server' }), 1);
    assert.equal(await m('ws_pongs_total', { direction: 'server_to_client' }), 1);
    assert.equal(await m('ws_bytes_received_total'), sent.length + close.length);
    assert.equal(await m('ws_bytes_sent_total'), bytesOut);
    assert.equal(await m('ws_close_total', { code: '1000', initiator: 'client' }), 1);
    assert.equal(await m('ws_close_total'), 1);
    assert.equal(await m('ws_connection_duration_seconds'), 1);
    assert.equal(await m('ws_handshake_failures_total'), 0);

    const log = sidecar.logs[0];
    assert.equal(log.event, 'connection_closed');
    assert.equal(log.transport, 'websocket');
    assert.equal(log.client_id, 'alice');
    assert.equal(log.close_code, 1000);
    assert.equal(log.initiator, 'client');
    assert.equal(log.reason, 'client_close');
    assert.equal(log.bytes_in, sent.length + close.length);
    assert.equal(log.bytes_out, bytesOut);
    assert.equal(log.messages_in, 5);
    assert.equal(log.messages_out, 5);
    assert.equal(log.path, '/ws?room=a&token=[redacted]&client_id=ignored');
    assert.equal(typeof log.duration_ms, 'number');
    // The backend saw the client id and the forwarded-for header.
    const req = backend.requests.at(-1)!;
    assert.equal(req.headers['x-client-id'], 'alice');
    assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(req.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('records a server close with an application code in the 4xxx bucket, and a generated client id', async () => {
    const before = sidecar.logs.length;
    const client = await rawUpgrade(sidecar.port, '/ws');
    const ws = await backend.next();
    ws.close(4001, 'kicked');
    await client.recv.waitFor(2 + 2 + 6);
    client.socket.write(frame({ opcode: Opcode.Close, payload: closePayload(4001), mask: true }));
    await waitUntil(() => sidecar.logs.length === before + 1, 3000, 'close log');
    assert.equal(await sidecar.metric('ws_close_total', { code: '4xxx', initiator: 'server' }), 1);
    const log = sidecar.logs.at(-1)!;
    assert.equal(log.close_code, 4001);
    assert.equal(log.initiator, 'server');
    assert.match(log.client_id, /^[0-9a-f-]{36}$/);
    assert.equal(backend.requests.at(-1)!.headers['x-client-id'], log.client_id);
    client.socket.destroy();
  });

  it('records 1006 when TCP ends without a close frame', async () => {
    const before = sidecar.logs.length;
    const client = await rawUpgrade(sidecar.port, '/ws');
    await backend.next();
    client.socket.destroy();
    await waitUntil(() => sidecar.logs.length === before + 1, 3000, 'close log');
    const log = sidecar.logs.at(-1)!;
    assert.equal(log.close_code, 1006);
    assert.equal(log.initiator, 'client');
    assert.equal(await sidecar.metric('ws_close_total', { code: '1006', initiator: 'client' }), 1);
  });

  it('exposes the same figures on /metrics and live connections on /connections', async () => {
    const client = await rawUpgrade(sidecar.port, '/ws?access_token=abc');
    await backend.next();
    const conns = (await (await fetch(`${sidecar.adminUrl}/connections`)).json()) as {
      connections: Array<{ transport: string; path: string }>;
    };
    assert.equal(conns.connections.length, 1);
    assert.equal(conns.connections[0].transport, 'websocket');
    assert.equal(conns.connections[0].path, '/ws?access_token=[redacted]');
    const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
    assert.match(text, /^ws_connections_active 1$/m);
    assert.match(text, /^ws_close_total\{code="1000",initiator="client"\} 1$/m);
    assert.match(text, /^socketlens_connections_active\{transport="websocket"\} 1$/m);
    assert.equal((await fetch(`${sidecar.adminUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${sidecar.adminUrl}/readyz`)).status, 200);
    client.socket.destroy();
    await waitUntil(() => sidecar.ctx.table.size === 0, 3000, 'closed');
  });
});
