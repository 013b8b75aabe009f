// The bench's Socket.IO and graphql-ws workloads really put decoding on the path: the bench
// backend and the load generator's echo, through an in-process sidecar, give exactly one decoded
// connection per client and one Socket.IO event (or graphql-ws operation message) per message.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LoadPool } from '../../bench/load/pool.js';
import type { EchoArgs, EchoResult } from '../../bench/load/worker.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const BACKEND = fileURLToPath(new URL('../../bench/backend.js', import.meta.url));

describe('bench protocol workloads through the sidecar', { timeout: 60_000 }, () => {
  let backend: ChildProcess;
  let backendPort = 0;
  let sidecar: TestSidecar;
  let pool: LoadPool;

  before(async () => {
    backend = spawn(process.execPath, [BACKEND, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(createInterface({ input: backend.stdout! }), 'line');
    backendPort = Number(/listening on (\d+)/.exec(String(line))?.[1]);
    pool = new LoadPool(1);
  });
  after(async () => {
    await pool?.close();
    if (backend && backend.exitCode === null) {
      const exited = once(backend, 'exit');
      backend.kill('SIGTERM');
      await exited;
    }
  });

  /** Runs the generator's echo through a fresh sidecar, then closes it so every count is final. */
  const run = async (args: Partial<EchoArgs>) => {
    sidecar = await startTestSidecar(backendPort);
    const url = new URL(sidecar.url);
    const [r] = await pool.all<EchoResult>('echo', () => ({
      host: url.hostname,
      port: Number(url.port),
      path: '/ws',
      localAddresses: ['127.0.0.1'],
      conns: 2,
      window: 1,
      payload: 64,
      warmupMs: 0,
      durationMs: 300,
      ...args,
    }));
    await sidecar.close();
    return r!;
  };

  it('socketio: engine.io sessions, and every echoed message is a Socket.IO event both ways', async () => {
    const r = await run({
      path: '/socket.io/?EIO=4&transport=websocket',
      text: `42["tick","${'x'.repeat(51)}"]`,
      greeting: { send: ['40'], skip: 2 },
    });
    assert.equal(r.connected, 2);
    assert.equal(r.errors, 0);
    assert.ok(r.messages > 0);
    assert.equal(await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'engineio' }), 2);
    const c2s = await sidecar.metric('socketio_events_total', {
      direction: 'client_to_server',
      event: 'tick',
    });
    const s2c = await sidecar.metric('socketio_events_total', {
      direction: 'server_to_client',
      event: 'tick',
    });
    // Every reply was counted by the generator; the last window may still be in flight.
    assert.ok(s2c >= r.messages && c2s >= s2c && c2s - s2c <= 2, `${c2s} ${s2c} ${r.messages}`);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
  });

  it('graphql: the subprotocol is negotiated and the pings and nexts are decoded', async () => {
    const r = await run({
      path: '/graphql',
      protocol: 'graphql-transport-ws',
      text: `{"type":"ping","payload":{"p":"${'x'.repeat(30)}"}}`,
      greeting: {
        send: [
          '{"type":"connection_init"}',
          '{"id":"1","type":"subscribe","payload":{"query":"subscription { p }"}}',
        ],
        skip: 1,
      },
    });
    assert.equal(r.connected, 2);
    assert.equal(r.errors, 0);
    assert.ok(r.messages > 0);
    assert.equal(
      await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'graphql-transport-ws' }),
      2,
    );
    // One subscription per connection, each with a first result, ended by the connection close.
    assert.equal(await sidecar.metric('graphql_ws_first_result_seconds_count'), 2);
    assert.equal(await sidecar.metric('graphql_ws_connection_ack_seconds_count'), 2);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
  });
});
