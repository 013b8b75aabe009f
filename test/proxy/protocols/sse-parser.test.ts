import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser } from '../../../proxy/protocols/sse.js';

function parse(text: string, step = 1) {
  const retries: number[] = [];
  const p = new SseParser((ms) => retries.push(ms));
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  return { events: p.events, comments: p.comments, retries };
}

describe('SSE parser (the event-stream rules of the HTML standard)', () => {
  const cases: Array<[string, string, { events: number; comments: number; retries: number[] }]> = [
    [
      'events end at blank lines, any line ending',
      'data: a\n\ndata: b\r\n\r\ndata: c\r\rdata',
      { events: 3, comments: 0, retries: [] },
    ],
    [
      'comments and keep-alives dispatch nothing',
      ': ping\n\n:\n\ndata: x\n: mid\n\n',
      { events: 1, comments: 3, retries: [] },
    ],
    [
      'a block without data dispatches nothing',
      'id: 7\n\nevent: e\n\nretry: 5\n\n',
      { events: 0, comments: 0, retries: [5] },
    ],
    ['an empty data field still dispatches', 'data\n\ndata:\n\n', { events: 2, comments: 0, retries: [] }],
    [
      'multi-line data is one event',
      'data: 1\ndata: 2\ndata: 3\n\n',
      { events: 1, comments: 0, retries: [] },
    ],
    [
      'retry takes digits only',
      'retry: 3000\nretry: 12a\nretry:\nretry: 250\n\n',
      { events: 0, comments: 0, retries: [3000, 250] },
    ],
    [
      'field names must match exactly',
      'dat: x\n\ndatas: y\n\nDATA: z\n\n',
      { events: 0, comments: 0, retries: [] },
    ],
    ['a leading BOM is ignored', '\ufeffdata: a\n\n', { events: 1, comments: 0, retries: [] }],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => {
      for (const step of [1, 2, 5, 1000]) assert.deepEqual(parse(text, step), want, `chunks of ${step}`);
    });
  }
});
