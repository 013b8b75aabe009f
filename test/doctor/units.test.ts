// The doctor's pure parts: target parsing, the accept hash, the default ping interval, the
// buffering judgement from event arrival times, and the frame reader.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../proxy/errors.js';
import { FrameReader } from '../../doctor/frame-reader.js';
import { expectedAccept, extensionNames, parseHead } from '../../doctor/handshake.js';
import { defaultPingInterval } from '../../doctor/probe-idle.js';
import { countBursts, judgeBuffering } from '../../doctor/sse-timing.js';
import { parseTarget, resolveSidePath } from '../../doctor/target.js';
import { Opcode } from '../../proxy/ws/frame-scanner.js';
import { encodeFrame } from '../../proxy/ws/frames.js';
import { frame } from '../helpers/frames.js';

describe('doctor units', () => {
  it('parses targets of all four schemes', () => {
    const a = parseTarget('wss://example.com/ws/?room=1');
    assert.deepEqual(
      {
        secure: a.secure,
        host: a.hostname,
        port: a.port,
        hostHeader: a.hostHeader,
        path: a.path,
        origin: a.origin,
      },
      {
        secure: true,
        host: 'example.com',
        port: 443,
        hostHeader: 'example.com',
        path: '/ws/?room=1',
        origin: 'https://example.com',
      },
    );
    const b = parseTarget('http://[::1]:8080/ws');
    assert.deepEqual(
      { secure: b.secure, host: b.hostname, port: b.port, hostHeader: b.hostHeader, origin: b.origin },
      { secure: false, host: '::1', port: 8080, hostHeader: '[::1]:8080', origin: 'http://[::1]:8080' },
    );
    assert.throws(() => parseTarget('ftp://x/'), ConfigError);
    assert.throws(() => parseTarget('wss://user:pw@x/'), /credentials in the URL are not supported/);
  });

  it('resolves side paths on the same origin only', () => {
    const t = parseTarget('wss://example.com:8443/ws');
    assert.equal(resolveSidePath(t, 'sse', '/events'), '/events');
    assert.equal(resolveSidePath(t, 'sse', 'https://example.com:8443/e?x=1'), '/e?x=1');
    assert.equal(resolveSidePath(t, 'sse', 'none'), null);
    assert.throws(() => resolveSidePath(t, 'sse', 'https://example.com/e'), /same origin/);
  });

  it('computes Sec-WebSocket-Accept as in RFC 6455 section 1.3', () => {
    assert.equal(expectedAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('parses an answer head, joining repeated headers', () => {
    const h = parseHead(
      'HTTP/1.1 426 Upgrade Required\r\nX-A: 1\r\nx-a: 2\r\nContent-Type: text/plain',
      Buffer.alloc(0),
    );
    assert.equal(h.statusCode, 426);
    assert.equal(h.reason, 'Upgrade Required');
    assert.deepEqual(h.headers, { 'x-a': '1, 2', 'content-type': 'text/plain' });
    assert.deepEqual(extensionNames('permessage-deflate; client_max_window_bits=15, x-foo'), [
      'permessage-deflate',
      'x-foo',
    ]);
  });

  it('picks a tidy ping interval of a third of the idle cut', () => {
    assert.equal(defaultPingInterval(2000.6), 600);
    assert.equal(defaultPingInterval(60_000), 20_000);
    assert.equal(defaultPingInterval(75_500), 25_000);
    assert.equal(defaultPingInterval(500), 160);
    assert.equal(defaultPingInterval(10), 10);
  });

  it('judges buffering from arrival times', () => {
    assert.equal(countBursts([200, 400, 410, 600]), 3);
    // Spread out: flowing.
    const flowing = judgeBuffering({ arrivals: [200, 400, 600, 800], ended: false });
    assert.deepEqual([flowing.buffered, flowing.events, flowing.bursts], [false, 4, 4]);
    // All at once as the response ended: held back.
    const held = judgeBuffering({ arrivals: [1600, 1600, 1600], ended: true });
    assert.equal(held.buffered, true);
    assert.equal(
      held.reason,
      'all 3 events arrived at once, 1600 ms after the request, as the response ended',
    );
    // Released in clumps of four.
    assert.equal(
      judgeBuffering({ arrivals: [800, 800, 801, 802, 1600, 1600, 1601, 1602], ended: false }).buffered,
      true,
    );
    // A quick initial lump (history replay) says nothing.
    assert.equal(judgeBuffering({ arrivals: [5, 5, 6], ended: false }).buffered, null);
    assert.equal(judgeBuffering({ arrivals: [], ended: false }).buffered, null);
    assert.equal(judgeBuffering({ arrivals: [300], ended: false }).buffered, null);
  });

  it('reads server frames split anywhere, and masked frames for completeness', () => {
    const bytes = Buffer.concat([
      frame({ opcode: 0x9, payload: 'hb' }),
      frame({ opcode: 0x1, payload: 'x'.repeat(300) }),
      frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe9]) }),
    ]);
    const reader = new FrameReader();
    const got = [];
    for (let i = 0; i < bytes.length; i += 7) got.push(...reader.push(bytes.subarray(i, i + 7)));
    assert.deepEqual(
      got.map((f) => [f.opcode, f.payload.length]),
      [
        [0x9, 2],
        [0x1, 300],
        [0x8, 2],
      ],
    );
    const masked = new FrameReader().push(encodeFrame(Opcode.Text, Buffer.from('hello'), true));
    assert.equal(masked[0].payload.toString(), 'hello');
  });
});
