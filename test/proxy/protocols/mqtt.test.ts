import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws';
import { freePort } from '../../../lab/runner/ports.js';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

/** What the real mqtt client itself sent and received, by packet type. */
interface Tally {
  sent: Record<string, number>;
  received: Record<string, number>;
}

function tally(c: MqttClient): Tally {
  const t: Tally = { sent: {}, received: {} };
  c.on('packetsend', (p) => {
    t.sent[p.cmd] = (t.sent[p.cmd] ?? 0) + 1;
  });
  c.on('packetreceive', (p) => {
    t.received[p.cmd] = (t.received[p.cmd] ?? 0) + 1;
  });
  return t;
}

/** The sidecar's mqtt_packets_total by type for one direction, zero counts left out. */
async function packets(sidecar: TestSidecar, direction: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const { MQTT_PACKET_TYPES } = await import('../../../proxy/metrics/definitions.js');
  for (const type of MQTT_PACKET_TYPES) {
    const n = await sidecar.metric('mqtt_packets_total', { direction, type });
    if (n > 0) out[type] = n;
  }
  return out;
}

function connected(c: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
}

/** Waits until the client has received `n` PINGRESPs. */
function pingresps(c: MqttClient, n: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    c.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp' && ++got === n) resolve();
    });
  });
}

/** A raw CONNECT (clean session) with this keep-alive and client id: MQTT 3.1.1, or 5 (no properties). */
function connectPacket(keepAlive: number, clientId: string, level = 4): Buffer {
  const id = Buffer.from(clientId);
  const props = level === 5 ? Buffer.from([0]) : Buffer.alloc(0);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, level, 0x02, keepAlive >> 8, keepAlive & 0xff]),
    props,
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

describe('MQTT 3.1.1 over WebSocket through the sidecar (real aedes broker, real mqtt client)', () => {
  let server: http.Server;
  let broker: Aedes;
  let sidecar: TestSidecar;
  let url: string;
  before(async () => {
    broker = await Aedes.createBroker();
    broker.authenticate = (_client, username, _password, done) => {
      if (username === 'intruder') {
        const err = Object.assign(new Error('bad credentials'), { returnCode: 4 });
        done(err as Parameters<typeof done>[0], false);
      } else done(null, true);
    };
    server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws) as never));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    sidecar = await startTestSidecar((server.address() as AddressInfo).port);
    url = `${sidecar.url.replace('http', 'ws')}/mqtt`;
  });
  after(async () => {
    await sidecar.close();
    server.closeAllConnections();
    server.close();
    await new Promise<void>((r) => broker.close(() => r()));
  });

  it('counts every packet by type and direction, exactly as the client sent and received them', async () => {
    const c = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: 'sensor-42',
      keepalive: 1,
      reconnectPeriod: 0,
      manualConnect: true,
    });
    const seen = tally(c);
    c.connect();
    await connected(c);
    await c.subscribeAsync('plant/+/temp', { qos: 1 });
    const delivered: string[] = [];
    c.on('message', (topic, payload) => delivered.push(`${topic}:${payload.length}`));
    await c.publishAsync('plant/a/temp', '21.5', { qos: 0 });
    await c.publishAsync('plant/b/temp', '19.0', { qos: 1 });
    // Larger than the 256 bytes the decoder sees of a message: its rest is skipped by count.
    await c.publishAsync('plant/c/temp', Buffer.alloc(3000, 0x41), { qos: 0 });
    await waitUntil(() => delivered.length === 3, 5000);
    // While it lives, /connections shows the protocol, the version and the client id.
    const live = (await (await fetch(`${sidecar.adminUrl}/connections`)).json()) as {
      connections: Array<Record<string, unknown>>;
    };
    assert.equal(live.connections.length, 1);
    assert.equal(live.connections[0].protocol, 'mqtt');
    assert.equal(live.connections[0].mqtt_version, '3.1.1');
    assert.equal(live.connections[0].mqtt_client_id, 'sensor-42');
    await pingresps(c, 2); // keep-alive 1 s: the client pings once a second while idle
    await c.endAsync();
    await waitUntil(() => sidecar.logs.length === 1, 5000);

    assert.deepEqual(seen.sent, {
      connect: 1,
      subscribe: 1,
      publish: 3,
      puback: 1,
      pingreq: 2,
      disconnect: 1,
    });
    assert.deepEqual(seen.received, { connack: 1, suback: 1, publish: 3, puback: 1, pingresp: 2 });
    assert.deepEqual(await packets(sidecar, 'client_to_server'), seen.sent);
    assert.deepEqual(await packets(sidecar, 'server_to_client'), seen.received);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
    assert.equal(await sidecar.metric('socketlens_protocol_connections_total', { protocol: 'mqtt' }), 1);
    assert.equal(await sidecar.metric('mqtt_connack_refusals_total'), 0);
    assert.equal(await sidecar.metric('mqtt_keepalive_misses_total'), 0);
    const line = sidecar.logs[0];
    assert.equal(line.protocol, 'mqtt');
    assert.equal(line.mqtt_version, '3.1.1');
    assert.equal(line.mqtt_client_id, 'sensor-42');
    assert.equal(line.mqtt_refused, undefined);
    assert.equal(line.initiator, 'client');
  });

  it('a CONNACK refusal is counted by reason (the authenticate hook answers return code 4)', async () => {
    const before = sidecar.logs.length;
    const c = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: 'x'.repeat(40),
      username: 'intruder',
      password: 'nope',
      reconnectPeriod: 0,
    });
    c.on('error', () => {});
    await waitUntil(() => sidecar.logs.length === before + 1, 5000);
    c.end(true);
    assert.equal(
      await sidecar.metric('mqtt_connack_refusals_total', { reason: 'bad_user_name_or_password' }),
      1,
    );
    assert.equal(await sidecar.metric('mqtt_connack_refusals_total'), 1);
    const line = sidecar.logs[before];
    assert.equal(line.mqtt_refused, 'bad_user_name_or_password');
    // A long client id is cut to 23 characters in the log; it is never a label.
    assert.equal(line.mqtt_client_id, `${'x'.repeat(23)}…`);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
  });

  it('an MQTT 5 CONNECT to a 3.1.1-only broker is refused as unsupported_protocol_version', async () => {
    const before = sidecar.logs.length;
    const c = mqtt.connect(url, { protocolVersion: 5, clientId: 'v5-to-aedes', reconnectPeriod: 0 });
    c.on('error', () => {});
    await waitUntil(() => sidecar.logs.length === before + 1, 5000);
    c.end(true);
    assert.equal(
      await sidecar.metric('mqtt_connack_refusals_total', { reason: 'unsupported_protocol_version' }),
      1,
    );
    assert.equal(sidecar.logs[before].mqtt_version, '5');
  });

  it('a client silent for 1.5x its keep-alive is a miss by the client; the broker closes it', async () => {
    // The mqtt client always pings, so the silent client is a plain WebSocket that sends a
    // CONNECT with keep-alive 1 s and then nothing; aedes drops it after 1.5 s.
    const before = sidecar.logs.length;
    const ws = new WebSocket(url, 'mqtt');
    await once(ws, 'open');
    // aedes writes its CONNACK in pieces, a message each.
    const fromBroker: number[] = [];
    ws.on('message', (m: Buffer) => fromBroker.push(...m));
    const closed = once(ws, 'close');
    ws.send(connectPacket(1, 'quiet-one'));
    await closed;
    assert.deepEqual(fromBroker, [0x20, 2, 0, 0]);
    await waitUntil(() => sidecar.logs.length === before + 1, 5000);
    assert.equal(await sidecar.metric('mqtt_keepalive_misses_total', { peer: 'client' }), 1);
    assert.equal(await sidecar.metric('mqtt_keepalive_misses_total', { peer: 'server' }), 0);
    assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' }), 1);
    assert.equal(sidecar.logs[before].initiator, 'server');
    assert.equal(sidecar.logs[before].mqtt_client_id, 'quiet-one');
  });
});

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

/** Resolves once something listens on the port. */
async function listening(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('MQTT 5 over WebSocket through the sidecar (real mosquitto broker, real mqtt client)', {
  skip: MOSQUITTO ? false : 'mosquitto not installed (.ci/install-deps.sh installs it)',
}, () => {
  let broker: ChildProcess;
  let dir: string;
  let sidecar: TestSidecar;
  let closedSidecar: TestSidecar;
  before(async () => {
    const open = await freePort();
    const closed = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'sl-mosquitto-'));
    // Two WebSocket listeners: one for anyone, one that refuses anonymous clients (mosquitto
    // 2.0 starts no WebSocket listener without a plain MQTT one, hence the third).
    const plain = await freePort();
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        'per_listener_settings true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        `listener ${plain} 127.0.0.1`,
        'allow_anonymous false',
        `listener ${open} 127.0.0.1`,
        'protocol websockets',
        'allow_anonymous true',
        `listener ${closed} 127.0.0.1`,
        'protocol websockets',
        'allow_anonymous false',
        '',
      ].join('\n'),
    );
    broker = spawn(MOSQUITTO!, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await listening(open, 10000);
    await listening(closed, 10000);
    sidecar = await startTestSidecar(open);
    closedSidecar = await startTestSidecar(closed);
  });
  after(async () => {
    await sidecar?.close();
    await closedSidecar?.close();
    if (broker && broker.exitCode === null) {
      broker.kill('SIGTERM');
      await once(broker, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts MQTT 5 packets exactly, by type and direction', async () => {
    const c = mqtt.connect(`${sidecar.url.replace('http', 'ws')}/mqtt`, {
      protocolVersion: 5,
      clientId: 'v5-device',
      keepalive: 1,
      reconnectPeriod: 0,
      manualConnect: true,
    });
    const seen = tally(c);
    c.connect();
    await connected(c);
    await c.subscribeAsync('fleet/#', { qos: 1 });
    let got = 0;
    c.on('message', () => got++);
    await c.publishAsync('fleet/1', 'up', { qos: 1 });
    await c.publishAsync('fleet/2', Buffer.alloc(1000, 1), { qos: 0 });
    await waitUntil(() => got === 2, 5000);
    await pingresps(c, 2);
    await c.endAsync();
    await waitUntil(() => sidecar.logs.length === 1, 5000);

    assert.deepEqual(seen.sent, {
      connect: 1,
      subscribe: 1,
      publish: 2,
      puback: 1,
      pingreq: 2,
      disconnect: 1,
    });
    assert.deepEqual(seen.received, { connack: 1, suback: 1, publish: 2, puback: 1, pingresp: 2 });
    assert.deepEqual(await packets(sidecar, 'client_to_server'), seen.sent);
    assert.deepEqual(await packets(sidecar, 'server_to_client'), seen.received);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
    assert.equal(await sidecar.metric('mqtt_keepalive_misses_total'), 0);
    assert.equal(sidecar.logs[0].protocol, 'mqtt');
    assert.equal(sidecar.logs[0].mqtt_version, '5');
    assert.equal(sidecar.logs[0].mqtt_client_id, 'v5-device');
  });

  it('a silent MQTT 5 client is a miss by the client; mosquitto closes it', async () => {
    const before = sidecar.logs.length;
    const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/mqtt`, 'mqtt');
    await once(ws, 'open');
    const closed = once(ws, 'close');
    ws.send(connectPacket(1, 'v5-quiet', 5));
    await closed;
    await waitUntil(() => sidecar.logs.length === before + 1, 5000);
    assert.equal(await sidecar.metric('mqtt_keepalive_misses_total', { peer: 'client' }), 1);
    assert.equal(await sidecar.metric('ws_heartbeat_misses_total', { peer: 'client' }), 1);
    assert.equal(await sidecar.metric('socketlens_protocol_decode_errors_total'), 0);
  });

  it('an MQTT 5 refusal is counted by its reason code (not_authorized)', async () => {
    const c = mqtt.connect(`${closedSidecar.url.replace('http', 'ws')}/mqtt`, {
      protocolVersion: 5,
      clientId: 'anon',
      reconnectPeriod: 0,
    });
    c.on('error', () => {});
    await waitUntil(() => closedSidecar.logs.length === 1, 5000);
    c.end(true);
    assert.equal(await closedSidecar.metric('mqtt_connack_refusals_total', { reason: 'not_authorized' }), 1);
    assert.equal(closedSidecar.logs[0].mqtt_refused, 'not_authorized');
    assert.equal(await closedSidecar.metric('socketlens_protocol_decode_errors_total'), 0);
  });
});
