/**
 * The MQTT decoder on byte sequences cut the ways a real stream can be cut: packets split across
 * WebSocket messages, several packets in one message, messages longer than the part the decoder
 * sees, broken headers; and keep-alive on a virtual clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../../proxy/clock.js';
import { sidecarConfig } from '../../../proxy/config/sidecar-options.js';
import { createContext } from '../../../proxy/context.js';
import { PREFIX_BYTES } from '../../../proxy/protocols/decoder.js';
import { MqttDecoder } from '../../../proxy/protocols/mqtt.js';

function harness() {
  let t = 0;
  const clock: Clock = {
    now: () => t,
    wall: () => 0,
    after: () => () => {},
    every: () => () => {},
    random: () => 0,
  };
  const ctx = createContext(sidecarConfig({ target: 'http://127.0.0.1:1', log: 'off' }), { clock });
  const d = new MqttDecoder(ctx, 'mqtt');
  /** One binary WebSocket message of these bytes, as the frame scanner hands it over. */
  const send = (fromClient: boolean, bytes: Buffer) => {
    const sink = fromClient ? d.c2s : d.s2c;
    const have = Math.min(bytes.length, PREFIX_BYTES);
    bytes.copy(sink.prefix, 0, 0, have);
    sink.onMessage(2, bytes.length, have, false);
  };
  const count = (direction: string, type: string) =>
    ctx.metrics.value('mqtt_packets_total', { direction, type });
  const errors = (direction: string) =>
    ctx.metrics.value('socketlens_protocol_decode_errors_total', { protocol: 'mqtt', direction });
  return {
    d,
    ctx,
    send,
    count,
    errors,
    at: (ms: number) => {
      t = ms;
      d.tick(t);
    },
  };
}

const CONNECT_311 = Buffer.from([
  0x10, 17, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 5, 0x64, 0x65, 0x76, 0x2d, 0x31,
]);
const PINGREQ = Buffer.from([0xc0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);
/** A QoS 0 PUBLISH of `n` payload bytes to topic "t" (remaining length as a varint). */
function publish(n: number): Buffer {
  const rest = 3 + n;
  const len: number[] = [];
  let x = rest;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    len.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...len, 0, 1, 0x74]), Buffer.alloc(n, 0x61)]);
}

describe('MQTT packet reader', () => {
  it('follows packets split byte by byte across messages and several packets in one message', async () => {
    const h = harness();
    for (const b of CONNECT_311) h.send(true, Buffer.from([b]));
    h.send(true, Buffer.concat([PINGREQ, publish(10), PINGREQ, publish(0)]));
    assert.equal(await h.count('client_to_server', 'connect'), 1);
    assert.equal(await h.count('client_to_server', 'pingreq'), 2);
    assert.equal(await h.count('client_to_server', 'publish'), 2);
    assert.equal(await h.errors('client_to_server'), 0);
    assert.deepEqual(h.d.view(), { protocol: 'mqtt', mqtt_version: '3.1.1', mqtt_client_id: 'dev-1' });
  });

  it('skips the unseen rest of a long message inside a body, and counts a packet that ends there', async () => {
    const h = harness();
    h.send(true, CONNECT_311);
    // 5000 payload bytes: the body runs past the 256 bytes the decoder sees, then two messages
    // carry the rest of another long packet (its first half in one message, its end in the next).
    h.send(true, publish(5000));
    const p = publish(1000);
    h.send(true, p.subarray(0, 800));
    h.send(true, Buffer.concat([p.subarray(800), PINGREQ]));
    assert.equal(await h.count('client_to_server', 'publish'), 2);
    assert.equal(await h.count('client_to_server', 'pingreq'), 1);
    assert.equal(await h.errors('client_to_server'), 0);
  });

  it('a header past the seen bytes loses the boundaries once; a message that starts a packet resumes', async () => {
    const h = harness();
    h.send(true, CONNECT_311);
    // A 300-byte packet then a PINGREQ in the same message: the PINGREQ starts at byte 305.
    h.send(true, Buffer.concat([publish(300), PINGREQ]));
    h.send(true, Buffer.from([0x00, 0x01])); // not a packet start: still lost, no second error
    h.send(true, PINGREQ);
    assert.equal(await h.count('client_to_server', 'publish'), 1);
    assert.equal(await h.count('client_to_server', 'pingreq'), 1);
    assert.equal(await h.errors('client_to_server'), 1);
  });

  it('malformed headers are one decode error each time the boundaries are lost', async () => {
    const h = harness();
    h.send(false, Buffer.from([0x00, 0x00])); // type 0 is reserved
    h.send(false, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])); // a five-byte remaining length
    h.send(false, Buffer.from([0x80, 0x00])); // still lost: not a valid packet start, no new error
    h.send(false, PINGRESP); // a valid start: back in step
    h.send(false, Buffer.from([0x80, 0x00])); // SUBSCRIBE with flags 0 (must be 2)
    h.send(false, PINGRESP);
    assert.equal(await h.errors('server_to_client'), 3);
    assert.equal(await h.count('server_to_client', 'pingresp'), 2);
  });

  it('a compressed message is counted, not read, and the reader resumes at the next packet start', async () => {
    const h = harness();
    h.d.c2s.onMessage(2, 40, 0, true);
    h.send(true, PINGREQ);
    assert.equal(
      await h.ctx.metrics.value('socketlens_protocol_compressed_messages_total', { protocol: 'mqtt' }),
      1,
    );
    assert.equal(await h.count('client_to_server', 'pingreq'), 1);
    assert.equal(await h.errors('client_to_server'), 0);
  });
});

describe('MQTT keep-alive', () => {
  it('a client silent for 1.5x its keep-alive is one miss by the client until it speaks again', async () => {
    const h = harness();
    h.send(true, CONNECT_311); // keep-alive 60 s
    h.at(89_999);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'client' }), 0);
    h.at(90_000);
    h.at(200_000);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'client' }), 1);
    h.send(true, PINGREQ);
    h.send(false, PINGRESP);
    h.at(290_000);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'client' }), 2);
    assert.equal(await h.ctx.metrics.value('ws_heartbeat_misses_total', { peer: 'client' }), 2);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'server' }), 0);
  });

  it('an MQTT 5 Server Keep Alive in the CONNACK replaces the keep-alive of the CONNECT', async () => {
    const h = harness();
    const id = Buffer.from('v5');
    // CONNECT v5, keep-alive 60 s, no properties.
    const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 0, 0, 2]), id]);
    h.send(true, Buffer.concat([Buffer.from([0x10, body.length]), body]));
    // CONNACK: success, properties: Receive Maximum 10, Assigned Client Identifier "abc",
    // Server Keep Alive 2 s.
    const props = Buffer.from([0x21, 0, 10, 0x12, 0, 3, 0x61, 0x62, 0x63, 0x13, 0, 2]);
    h.send(false, Buffer.concat([Buffer.from([0x20, 3 + props.length, 0, 0, props.length]), props]));
    h.at(2_999);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'client' }), 0);
    h.at(3_000);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'client' }), 1);
    assert.equal(h.d.view().mqtt_version, '5');
  });

  it('a PINGREQ not answered within the keep-alive is a miss by the server', async () => {
    const h = harness();
    h.send(true, CONNECT_311);
    h.at(10_000);
    h.send(true, PINGREQ);
    h.at(69_999);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'server' }), 0);
    h.at(70_000);
    h.at(80_000);
    assert.equal(await h.ctx.metrics.value('mqtt_keepalive_misses_total', { peer: 'server' }), 1);
    assert.equal(await h.ctx.metrics.value('ws_heartbeat_misses_total', { peer: 'server' }), 1);
  });

  it('refusals: 3.1.1 return codes and MQTT 5 reason codes by name', async () => {
    const { refusalReason } = await import('../../../proxy/protocols/mqtt.js');
    assert.equal(refusalReason(1), 'unsupported_protocol_version');
    assert.equal(refusalReason(5), 'not_authorized');
    assert.equal(refusalReason(0x84), 'unsupported_protocol_version');
    assert.equal(refusalReason(0x87), 'not_authorized');
    assert.equal(refusalReason(0x9f), 'connection_rate_exceeded');
    assert.equal(refusalReason(0x42), 'other');
  });
});
