import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../../proxy/ws/frame-scanner.js';
import { closePayload, frame } from '../../helpers/frames.js';
import { rawUpgrade, waitUntil } from '../../helpers/raw.js';
import { api, ended, type FaultRig, sleep, startFault, startFaultRig } from './helpers.js';

/** Unmasks a client frame with a short payload (the test's own decoder). */
function unmaskShort(f: Buffer): { opcode: number; payload: Buffer } {
  const len = f[1]! & 0x7f;
  const key = f.subarray(2, 6);
  const payload = Buffer.alloc(len);
  for (let i = 0; i < len; i++) payload[i] = f[6 + i]! ^ key[i & 3]!;
  return { opcode: f[0]! & 0x0f, payload };
}

async function pair(rig: FaultRig, path = '/ws', headers: Record<string, string> = {}) {
  const client = await rawUpgrade(rig.sidecar.port, path, headers);
  assert.equal(client.status, 101);
  const peer = await rig.backend.next();
  return { client, peer };
}

const lastLog = (rig: FaultRig) => rig.sidecar.logs[rig.sidecar.logs.length - 1]!;

describe('faults: each action, at both ends', () => {
  let rig: FaultRig;
  before(async () => {
    rig = await startFaultRig();
  });
  after(() => rig.close());

  it('leaves untouched traffic byte-identical: unmatched connections, and non-pong frames under drop-pongs', async () => {
    const admin = rig.sidecar.adminUrl!;
    await startFault(admin, { action: 'stall', match: { clientId: 'nobody', live: true } });
    const { client, peer } = await pair(rig, '/ws', { 'x-client-id': 'somebody' });
    const other = await pair(rig, '/ws', { 'x-client-id': 'dropper' });
    await startFault(admin, { action: 'drop-pongs', match: { clientId: 'dropper', live: true } });
    const mixed = (mask: boolean) =>
      Buffer.concat([
        frame({ opcode: Opcode.Text, payload: 'hello', mask }),
        frame({ opcode: Opcode.Binary, payload: 'part-1', fin: false, mask }),
        frame({ opcode: Opcode.Ping, payload: 'p', mask }),
        frame({ opcode: Opcode.Continuation, payload: 'part-2', mask }),
        frame({ opcode: Opcode.Binary, payload: Buffer.alloc(70000, 3), mask }),
        frame({ opcode: Opcode.Pong, payload: 'q', mask }),
        frame({ opcode: Opcode.Text, payload: 'L', long: true, mask }),
      ]);
    const up = mixed(true);
    const down = mixed(false);
    // Written in odd-sized pieces, so frames are split across chunks.
    for (let i = 0; i < up.length; i += 997) client.socket.write(up.subarray(i, i + 997));
    for (let i = 0; i < down.length; i += 1009) peer.socket.write(down.subarray(i, i + 1009));
    other.client.socket.write(up);
    other.peer.socket.write(down);
    await peer.recv.waitFor(up.length);
    await client.recv.waitFor(down.length);
    assert.deepEqual(peer.recv.bytes, up);
    assert.deepEqual(client.recv.bytes, down);
    // Under drop-pongs: everything but the one pong frame (3 bytes + 4 mask bytes up, 3 down).
    const pongUp = frame({ opcode: Opcode.Pong, payload: 'q', mask: true }).length;
    await other.peer.recv.waitFor(up.length - pongUp);
    await other.client.recv.waitFor(down.length - 3);
    await sleep(50);
    const cutPong = (b: Buffer, len: number) => {
      const tail = frame({ opcode: Opcode.Text, payload: 'L', long: true, mask: b === up }).length;
      return Buffer.concat([b.subarray(0, b.length - tail - len), b.subarray(b.length - tail)]);
    };
    assert.deepEqual(other.peer.recv.bytes, cutPong(up, pongUp));
    assert.deepEqual(other.client.recv.bytes, cutPong(down, 3));
    for (const s of [client, other.client]) s.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    await api(admin, 'DELETE', '/faults');
  });

  it('close toward the client: a 1012 close frame with the reason; the client answer reaches the backend', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, {
      action: 'close',
      direction: 'client',
      code: 1012,
      reason: 'restart',
      match: { live: true },
    });
    const expected = frame({ opcode: Opcode.Close, payload: closePayload(1012, 'restart') });
    await client.recv.waitFor(expected.length);
    assert.deepEqual(client.recv.bytes, expected);
    assert.equal(peer.recv.length, 0, 'the backend got nothing from the sidecar itself');
    const answer = frame({ opcode: Opcode.Close, payload: closePayload(1012), mask: true });
    client.socket.write(answer);
    await peer.recv.waitFor(answer.length);
    assert.deepEqual(peer.recv.bytes, answer);
    peer.socket.end();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    const log = lastLog(rig);
    assert.equal(log.close_code, 1012);
    assert.equal(log.initiator, 'proxy');
    assert.equal(log.reason, 'fault_close');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('close toward both: 1013 to the client unmasked, to the backend masked', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, {
      action: 'close',
      code: 1013,
      reason: 'busy',
      match: { live: true },
    });
    const toClient = frame({ opcode: Opcode.Close, payload: closePayload(1013, 'busy') });
    await client.recv.waitFor(toClient.length);
    assert.deepEqual(client.recv.bytes, toClient);
    await peer.recv.waitFor(2 + 4 + 6);
    assert.equal(peer.recv.length, 12);
    assert.equal(peer.recv.bytes[1]! & 0x80, 0x80, 'masked toward the backend');
    const got = unmaskShort(peer.recv.bytes);
    assert.equal(got.opcode, Opcode.Close);
    assert.deepEqual(got.payload, closePayload(1013, 'busy'));
    client.socket.destroy();
    peer.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    assert.equal(lastLog(rig).close_code, 1013);
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('drop-pongs toward the backend: the pong vanishes, the message after it arrives byte for byte', async () => {
    const { client, peer } = await pair(rig);
    const id = await startFault(rig.sidecar.adminUrl!, {
      action: 'drop-pongs',
      direction: 'backend',
      match: { live: true },
    });
    const ping = frame({ opcode: Opcode.Ping, payload: 'hb-1' });
    peer.socket.write(ping);
    await client.recv.waitFor(ping.length);
    assert.deepEqual(client.recv.bytes, ping);
    const pong = frame({ opcode: Opcode.Pong, payload: 'hb-1', mask: true });
    const text = frame({ opcode: Opcode.Text, payload: 'after the pong', mask: true });
    // The pong split across two writes: it must still be dropped whole.
    client.socket.write(pong.subarray(0, 3));
    await sleep(30);
    client.socket.write(Buffer.concat([pong.subarray(3), text]));
    await peer.recv.waitFor(text.length);
    await sleep(50);
    assert.deepEqual(peer.recv.bytes, text);
    const conn = [
      ...rig.sidecar.ctx.table.connections(),
    ][0] as import('../../../proxy/ws/connection.js').WsConnection;
    assert.equal(conn.pipeToward('backend').dropped, 1);
    // Ended: the next pong goes through.
    assert.equal((await api(rig.sidecar.adminUrl!, 'DELETE', `/faults/${id}`)).status, 200);
    const pong2 = frame({ opcode: Opcode.Pong, payload: 'hb-2', mask: true });
    client.socket.write(pong2);
    await peer.recv.waitFor(text.length + pong2.length);
    assert.deepEqual(peer.recv.bytes, Buffer.concat([text, pong2]));
    client.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
  });

  it('withhold-close toward the backend: the client close never arrives; the other way still flows', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, {
      action: 'withhold-close',
      direction: 'backend',
      match: { live: true },
    });
    const close = frame({ opcode: Opcode.Close, payload: closePayload(1000, 'bye'), mask: true });
    client.socket.write(close);
    await sleep(200);
    assert.equal(peer.recv.length, 0);
    const msg = frame({ opcode: Opcode.Text, payload: 'still here' });
    peer.socket.write(msg);
    await client.recv.waitFor(msg.length);
    assert.deepEqual(client.recv.bytes, msg);
    client.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('stall toward the client: nothing arrives while it lasts, then everything in order; the other way flows', async () => {
    const { client, peer } = await pair(rig);
    const id = await startFault(rig.sidecar.adminUrl!, {
      action: 'stall',
      direction: 'client',
      match: { live: true },
    });
    const down = Buffer.concat([1, 2, 3].map((i) => frame({ opcode: Opcode.Text, payload: `m${i}` })));
    for (let i = 0; i < 3; i++) peer.socket.write(down.subarray(i * 4, i * 4 + 4));
    const up = frame({ opcode: Opcode.Binary, payload: 'up', mask: true });
    client.socket.write(up);
    await peer.recv.waitFor(up.length);
    assert.deepEqual(peer.recv.bytes, up);
    await sleep(300);
    assert.equal(client.recv.length, 0, 'stalled: the client got nothing');
    await api(rig.sidecar.adminUrl!, 'DELETE', `/faults/${id}`);
    await client.recv.waitFor(down.length);
    assert.deepEqual(client.recv.bytes, down);
    client.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
  });

  it('delay toward the backend: each message arrives 200 ± 50 ms later, in order and unchanged', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, {
      action: 'delay',
      direction: 'backend',
      delay: '200ms',
      jitter: '50ms',
      match: { live: true },
    });
    const frames = [0, 1, 2, 3, 4].map((i) =>
      frame({ opcode: Opcode.Text, payload: `msg-${i}`, mask: true }),
    );
    const sentAt: number[] = [];
    const arrivedAt: number[] = [];
    let expectLen = 0;
    for (const f of frames) {
      const t = performance.now();
      client.socket.write(f);
      sentAt.push(t);
      expectLen += f.length;
      const want = expectLen;
      await peer.recv.waitFor(want, 3000);
      arrivedAt.push(performance.now());
    }
    assert.deepEqual(peer.recv.bytes, Buffer.concat(frames));
    for (let i = 0; i < frames.length; i++) {
      const d = arrivedAt[i]! - sentAt[i]!;
      assert.ok(d >= 148 && d <= 250 + 150, `message ${i} delayed ${d.toFixed(0)} ms`);
    }
    // The other direction is untouched.
    const down = frame({ opcode: Opcode.Text, payload: 'fast' });
    const t0 = performance.now();
    peer.socket.write(down);
    await client.recv.waitFor(down.length);
    assert.ok(performance.now() - t0 < 100);
    client.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('throttle toward the client: 20,000 bytes at 20,000 B/s take about a second, unchanged', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, { action: 'throttle', rate: 20000, match: { live: true } });
    const big = frame({ opcode: Opcode.Binary, payload: Buffer.alloc(19996, 7) });
    assert.equal(big.length, 20000);
    const t0 = performance.now();
    peer.socket.write(big);
    await sleep(400);
    const at400 = client.recv.length;
    await client.recv.waitFor(big.length, 5000);
    const took = performance.now() - t0;
    assert.deepEqual(client.recv.bytes, big);
    assert.ok(at400 >= 4000 && at400 <= 11000, `after 400 ms the client had ${at400} bytes`);
    assert.ok(took >= 900 && took <= 2000, `took ${took.toFixed(0)} ms`);
    client.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('cut: both ends get a TCP reset and no close frame; logged as 1006 by the proxy', async () => {
    const { client, peer } = await pair(rig);
    const clientEnd = ended(client.socket);
    const peerEnd = ended(peer.socket);
    await startFault(rig.sidecar.adminUrl!, { action: 'cut', match: { live: true } });
    assert.equal(await clientEnd, 'ECONNRESET');
    assert.equal(await peerEnd, 'ECONNRESET');
    assert.equal(client.recv.length, 0);
    assert.equal(peer.recv.length, 0);
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    const log = lastLog(rig);
    assert.equal(log.close_code, 1006);
    assert.equal(log.initiator, 'proxy');
    assert.equal(log.reason, 'fault_cut');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });

  it('truncate toward the client: the first half of the next frame, then a reset at both ends', async () => {
    const { client, peer } = await pair(rig);
    await startFault(rig.sidecar.adminUrl!, { action: 'truncate', match: { live: true } });
    const clientEnd = ended(client.socket);
    const peerEnd = ended(peer.socket);
    const f = frame({ opcode: Opcode.Text, payload: Buffer.alloc(100, 120) });
    peer.socket.write(f);
    assert.equal(await clientEnd, 'ECONNRESET');
    assert.equal(await peerEnd, 'ECONNRESET');
    assert.deepEqual(client.recv.bytes, f.subarray(0, 51));
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connection closed');
    const log = lastLog(rig);
    assert.equal(log.close_code, 1006);
    assert.equal(log.reason, 'fault_truncate');
    await api(rig.sidecar.adminUrl!, 'DELETE', '/faults');
  });
});
