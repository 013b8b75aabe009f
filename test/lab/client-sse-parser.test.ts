import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type SseEvent, SseParser } from '../../lab/client/sse-parser.js';

// Every feature in one stream, with all three line endings, a BOM and multi-byte UTF-8.
const SAMPLE =
  '\uFEFF: welcome\r\n' +
  'retry: 1500\n' +
  '\n' +
  'id: 1\r\n' +
  'data: {"a":1}\r\n' +
  '\r\n' +
  'event: custom\r' +
  'data:first\r' +
  'data:  second (one leading space kept)\r' +
  'id: 2\r' +
  '\r' +
  'data\n' + // field without colon: empty value
  'data: héllo wörld ✓ 🚀\n' +
  'unknown: ignored\n' +
  '\n' +
  'id: 3\n' + // id without data: no event, but the id sticks
  '\n' +
  'data: after id-only block\n' +
  'id: bad\u0000id\n' + // NUL in id: ignored
  '\n' +
  ': keepalive\n' +
  'data: trailing event without blank line is dropped\n';

const EXPECTED: SseEvent[] = [
  { type: 'message', data: '{"a":1}', id: '1' },
  { type: 'custom', data: 'first\n second (one leading space kept)', id: '2' },
  { type: 'message', data: '\nhéllo wörld ✓ 🚀', id: '2' },
  { type: 'message', data: 'after id-only block', id: '3' },
];

function parseChunks(chunks: (string | Uint8Array)[]) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const p = new SseParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  for (const c of chunks) p.push(c);
  p.end();
  return { events, comments, retries, lastEventId: p.lastEventId };
}

describe('SseParser', () => {
  test('parses the sample in one chunk', () => {
    const r = parseChunks([SAMPLE]);
    assert.deepEqual(r.events, EXPECTED);
    assert.deepEqual(r.comments, [' welcome', ' keepalive']);
    assert.deepEqual(r.retries, [1500]);
    assert.equal(r.lastEventId, '3');
  });

  test('a split at every byte offset gives identical results (bytes, incl. inside UTF-8)', () => {
    const bytes = new TextEncoder().encode(SAMPLE);
    const whole = parseChunks([bytes]);
    assert.deepEqual(whole.events, EXPECTED);
    for (let i = 0; i <= bytes.length; i++) {
      const r = parseChunks([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(r, whole, `split at byte ${i}`);
    }
  });

  test('a split at every pair of string offsets gives identical results', () => {
    const whole = parseChunks([SAMPLE]);
    for (let i = 0; i <= SAMPLE.length; i += 3) {
      for (let j = i; j <= SAMPLE.length; j += 5) {
        const r = parseChunks([SAMPLE.slice(0, i), SAMPLE.slice(i, j), SAMPLE.slice(j)]);
        assert.deepEqual(r, whole, `split at ${i}/${j}`);
      }
    }
  });

  test('one character at a time gives identical results', () => {
    assert.deepEqual(parseChunks([...SAMPLE]), parseChunks([SAMPLE]));
  });

  test('CR at a chunk end followed by LF counts as one line end, CR CR as two', () => {
    assert.deepEqual(parseChunks(['data: x\r', '\n\r', '\n']).events, [
      { type: 'message', data: 'x', id: '' },
    ]);
    assert.deepEqual(parseChunks(['data: x\r', '\r']).events, [{ type: 'message', data: 'x', id: '' }]);
  });

  test('retry with non-digits is ignored', () => {
    assert.deepEqual(parseChunks(['retry: 10s\nretry: 20\n\n']).retries, [20]);
  });
});
