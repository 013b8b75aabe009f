import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { seededRandom } from '../../../proxy/faults/random.js';
import { Opcode } from '../../../proxy/ws/frame-scanner.js';
import { frame } from '../../helpers/frames.js';
import { rawUpgrade, waitUntil } from '../../helpers/raw.js';
import { startTestSidecar } from '../../helpers/sidecar.js';
import { startWsBackend, type WsBackend } from '../../helpers/ws-backend.js';
import { api, type FaultRig, sleep, startFault, startFaultRig } from './helpers.js';

describe('fault API', () => {
  let rig: FaultRig;
  before(async () => {
    rig = await startFaultRig();
  });
  after(() => rig.close());

  it('is off by default: 404 naming --faults', async () => {
    const ws = await startWsBackend();
    const plain = await startTestSidecar(ws.port);
    try {
      const r = await api(plain.adminUrl!, 'POST', '/faults', { action: 'cut' });
      assert.equal(r.status, 404);
      assert.equal(r.json.text, 'the fault API is off (start the sidecar with --faults)\n');
      assert.equal(plain.ctx.faults, null);
    } finally {
      await plain.close();
      await ws.close();
    }
  });

  it('is never served on the proxy port: there /faults goes to the backend', async () => {
    const ws = await startWsBackend();
    const s = await startTestSidecar(ws.port, { faults: true });
    try {
      const r = await api(s.url, 'POST', '/faults', { action: 'cut' });
      assert.equal(r.status, 200);
      assert.equal(r.json.text, 'plain\n', "the backend's own answer");
      assert.equal(s.ctx.faults!.size, 0);
    } finally {
      await s.close();
      await ws.close();
    }
  });

  it('rejects a bad spec with a coded error naming the field', async () => {
    const bad = [
      [{ action: 'explode' }, 'action: expected one of close, drop-pongs'],
      [{ action: 'close', code: 1006 }, 'code: 1006 may not be sent in a close frame'],
      [{ action: 'cut', match: { share: 0 } }, 'match.share: expected a fraction in (0, 1], got 0'],
      [{ action: 'delay' }, 'delay: delay needs a delay, e.g. "delay": "200ms"'],
      [{ action: 'throttle', rate: 'fast' }, 'rate: throttle needs a rate in bytes per second'],
      [
        { action: 'drop-pongs', match: { transport: 'sse' } },
        'match.transport: drop-pongs does not apply to sse',
      ],
      [
        { action: 'cut', match: { transport: 'mqtt' } },
        'match.transport: expected one of websocket, sse, longpoll',
      ],
      [
        { action: 'reject-upgrades', match: { live: true } },
        'match.live: reject-upgrades acts on new upgrades only',
      ],
      [{ action: 'cut', color: 'red' }, 'color: unknown field'],
    ] as const;
    for (const [spec, msg] of bad) {
      const r = await api(rig.sidecar.adminUrl!, 'POST', '/faults', spec);
      assert.equal(r.status, 400, JSON.stringify(spec));
      const err = r.json.error as { code: string; message: string };
      assert.equal(err.code, 'SL_FAULT_SPEC');
      assert.ok(err.message.startsWith(msg), err.message);
    }
    assert.equal(rig.sidecar.ctx.faults!.size, 0);
  });

  it('starts, lists, deletes and expires faults, with a log line and metrics for each', async () => {
    const admin = rig.sidecar.adminUrl!;
    const before = rig.faultLog.length;
    const id = await startFault(admin, { action: 'stall', duration: '30s', match: { pathPrefix: '/ws' } });
    const list = await api(admin, 'GET', '/faults');
    const faults = list.json.faults as Array<Record<string, unknown>>;
    assert.equal(faults.length, 1);
    assert.equal(faults[0]!.id, id);
    assert.equal(faults[0]!.action, 'stall');
    assert.equal(faults[0]!.direction, 'both');
    assert.equal(faults[0]!.hits, 0);
    assert.equal(await rig.sidecar.metric('socketlens_faults_active', { action: 'stall' }), 1);
    assert.equal((await api(admin, 'DELETE', `/faults/${id}`)).status, 200);
    assert.equal((await api(admin, 'DELETE', `/faults/${id}`)).status, 404);
    assert.equal(await rig.sidecar.metric('socketlens_faults_active', { action: 'stall' }), 0);
    await startFault(admin, { action: 'cut', duration: '100ms' });
    await waitUntil(() => rig.sidecar.ctx.faults!.size === 0, 3000, 'expiry');
    const lines = rig.faultLog.slice(before).map((r) => `${r.event} ${r.action} ${r.ended_by ?? ''}`.trim());
    assert.deepEqual(lines, [
      'fault_started stall',
      'fault_ended stall deleted',
      'fault_started cut',
      'fault_ended cut expired',
    ]);
  });

  it('matches by client id and live connections; new-only spares the open ones', async () => {
    const admin = rig.sidecar.adminUrl!;
    const a = await rawUpgrade(rig.sidecar.port, '/ws', { 'x-client-id': 'alice' });
    const pa = await rig.backend.next();
    const b = await rawUpgrade(rig.sidecar.port, '/ws', { 'x-client-id': 'bob' });
    const pb = await rig.backend.next();
    const fid = await startFault(admin, {
      action: 'stall',
      direction: 'client',
      match: { clientId: 'alice', live: true },
    });
    const m = frame({ opcode: Opcode.Text, payload: 'x' });
    pa.socket.write(m);
    pb.socket.write(m);
    await b.recv.waitFor(m.length);
    await sleep(150);
    assert.equal(a.recv.length, 0, 'alice is stalled');
    assert.deepEqual(b.recv.bytes, m, 'bob is not');
    const view = (await api(admin, 'GET', `/faults/${fid}`)).json;
    assert.equal(view.hits, 1);
    assert.deepEqual(
      (view.connections as Array<{ client_id: string }>).map((c) => c.client_id),
      ['alice'],
    );
    await api(admin, 'DELETE', '/faults');
    await a.recv.waitFor(m.length);
    // New-only: the open connection is spared, the next one is hit.
    await startFault(admin, { action: 'stall', direction: 'client' });
    pb.socket.write(m);
    await b.recv.waitFor(2 * m.length);
    const c = await rawUpgrade(rig.sidecar.port, '/ws');
    const pc = await rig.backend.next();
    pc.socket.write(m);
    await sleep(150);
    assert.equal(c.recv.length, 0);
    await api(admin, 'DELETE', '/faults');
    await c.recv.waitFor(m.length);
    for (const s of [a, b, c]) s.socket.destroy();
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connections closed');
  });

  it('reject-upgrades: a seeded share of new upgrades gets 503 with Retry-After; the backend never sees them', async () => {
    const admin = rig.sidecar.adminUrl!;
    const seen0 = rig.backend.heads.length;
    await startFault(admin, {
      action: 'reject-upgrades',
      status: 503,
      retryAfter: 5,
      match: { share: 0.5, seed: 7 },
    });
    const draw = seededRandom(7);
    const expected = Array.from({ length: 20 }, () => draw() < 0.5);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await rawUpgrade(rig.sidecar.port, `/ws?n=${i}`);
      statuses.push(r.status);
      if (r.status === 503) assert.match(r.head, /\r\nRetry-After: 5\r\n/);
      r.socket.destroy();
    }
    const rejected = expected.filter(Boolean).length;
    assert.deepEqual(
      statuses,
      expected.map((x) => (x ? 503 : 101)),
    );
    assert.ok(rejected > 0 && rejected < 20);
    assert.equal(rig.backend.heads.length - seen0, 20 - rejected);
    assert.equal(await rig.sidecar.metric('ws_handshake_failures_total', { reason: 'fault' }), rejected);
    assert.equal(
      await rig.sidecar.metric('socketlens_fault_hits_total', { action: 'reject-upgrades' }),
      rejected,
    );
    await api(admin, 'DELETE', '/faults');
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connections closed');
  });

  it('slow-handshake: the 101 comes 300 ms later, and the backend sees the request only then', async () => {
    const admin = rig.sidecar.adminUrl!;
    await startFault(admin, { action: 'slow-handshake', delay: '300ms' });
    const t0 = performance.now();
    const seen0 = rig.backend.heads.length;
    const pending = rawUpgrade(rig.sidecar.port);
    await sleep(200);
    assert.equal(rig.backend.heads.length, seen0, 'not forwarded yet');
    const r = await pending;
    const took = performance.now() - t0;
    assert.equal(r.status, 101);
    assert.ok(took >= 295 && took < 1500, `101 after ${took.toFixed(0)} ms`);
    r.socket.destroy();
    await api(admin, 'DELETE', '/faults');
    await waitUntil(() => rig.sidecar.ctx.table.size === 0, 5000, 'connections closed');
  });
});

describe('fault matching by subprotocol (a ws backend choosing it)', () => {
  let ws: WsBackend;
  before(async () => {
    ws = await startWsBackend();
  });
  after(() => ws.close());

  it('closes only the connections that speak the matched subprotocol', async () => {
    const s = await startTestSidecar(ws.port, { faults: true }, null, { faultLog: () => {} });
    try {
      const open = (proto: string) =>
        new Promise<WebSocket>((resolve, reject) => {
          const c = new WebSocket(`${s.url.replace('http', 'ws')}/ws`, proto);
          c.once('open', () => resolve(c));
          c.once('error', reject);
        });
      const mqtt = await open('mqtt');
      const chat = await open('chat');
      assert.equal(mqtt.protocol, 'mqtt');
      const closed = new Promise<number>((r) => mqtt.once('close', (code) => r(code)));
      await startFault(s.adminUrl!, { action: 'close', code: 4000, match: { protocol: 'mqtt', live: true } });
      assert.equal(await closed, 4000);
      const echo = new Promise<string>((r) => chat.once('message', (d) => r(String(d))));
      chat.send('still up');
      assert.equal(await echo, 'still up');
      chat.close();
      await waitUntil(() => s.ctx.table.size === 0, 5000, 'closed');
    } finally {
      await s.close();
    }
  });
});
