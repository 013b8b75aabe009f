import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../helpers/raw.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

const APP = fileURLToPath(
  new URL('../../../../test/proxy/protocols/servers/sse_events_app.py', import.meta.url),
);

/** What the client itself saw in the raw stream: data lines (one per event here) and comment lines. */
function tally(body: string) {
  const lines = body.split(/\r\n|\r|\n/);
  return {
    events: lines.filter((l) => l.startsWith('data:')).length,
    comments: lines.filter((l) => l.startsWith(':')).length,
  };
}

describe('SSE by the spec, against sse-starlette (keep-alive comments are not events)', () => {
  let app: ChildProcess;
  let port: number;
  let sidecar: TestSidecar;
  before(async () => {
    app = spawn('python3', [APP], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(createInterface({ input: app.stdout! }), 'line');
    port = Number(line);
    // The port is printed once bound; uvicorn listens a moment later.
    await waitUntil(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/none`)).status === 404;
      } catch {
        return false;
      }
    }, 10_000);
  });
  after(async () => {
    const exited = once(app, 'exit');
    app.kill('SIGTERM');
    await exited;
  });

  it('counts the 10 events, the keep-alive comments apart, and the retry', async () => {
    sidecar = await startTestSidecar(port);
    try {
      const res = await fetch(`${sidecar.url}/events`);
      assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
      const seen = tally(await res.text());
      assert.equal(seen.events, 10);
      assert.ok(seen.comments >= 1, 'sse-starlette sent keep-alive comments');
      await waitUntil(() => sidecar.logs.length === 1, 5000);
      assert.equal(await sidecar.metric('sse_events_sent_total'), 10);
      assert.equal(await sidecar.metric('sse_comments_total'), seen.comments);
      assert.equal(await sidecar.metric('sse_retry_seconds'), 1);
      assert.equal(await sidecar.metric('sse_retry_seconds_sum'), 2.5);
      assert.equal(await sidecar.metric('sse_streams_resumed_total'), 0);
      const line = sidecar.logs[0];
      assert.equal(line.protocol, 'sse');
      assert.equal(line.messages_out, 10);
      assert.equal(line.comments, seen.comments);
      assert.equal(line.resumed, false);
      assert.equal(line.retry_ms, 2500);
    } finally {
      await sidecar.close();
    }
  });

  it('a request with Last-Event-ID is a resumed stream', async () => {
    sidecar = await startTestSidecar(port);
    try {
      const res = await fetch(`${sidecar.url}/events`, { headers: { 'last-event-id': '7' } });
      const seen = tally(await res.text());
      assert.equal(seen.events, 3);
      await waitUntil(() => sidecar.logs.length === 1, 5000);
      assert.equal(await sidecar.metric('sse_streams_resumed_total'), 1);
      assert.equal(await sidecar.metric('sse_events_sent_total'), 3);
      assert.equal(sidecar.logs[0].resumed, true);
      assert.equal(sidecar.logs[0].messages_out, 3);
    } finally {
      await sidecar.close();
    }
  });

  it('with --protocols none, every blank-line block counts, as before', async () => {
    sidecar = await startTestSidecar(port, { protocols: ['none'] });
    try {
      const res = await fetch(`${sidecar.url}/events`);
      const seen = tally(await res.text());
      await waitUntil(() => sidecar.logs.length === 1, 5000);
      // sse-starlette ends each comment with a blank line, so each one was a "block".
      assert.equal(await sidecar.metric('sse_events_sent_total'), seen.events + seen.comments);
      assert.equal(sidecar.logs[0].protocol, undefined);
    } finally {
      await sidecar.close();
    }
  });
});
