// The TLS edge against a real nginx: the correct Upgrade hop, the stripped hop and the
// buffering hop, each observed from both ends (client result and what the upstream received).
import assert from 'node:assert/strict';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { type NginxEdge, startNginx } from '../../lab/runner/components/nginx.js';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A tiny upstream: echoes WebSocket messages, streams /slow, and answers any other plain
 * request with 426 like a WebSocket-only endpoint does. Records every plain request. */
function startUpstream(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const server = createServer(async (req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/slow') {
      // Headers first, then 5 small events 250 ms apart: about 1.25 s of stream, a few bytes.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      for (let i = 1; i <= 5; i++) {
        await sleep(250);
        res.write(`data: ${i}\n\n`);
      }
      res.end();
      return;
    }
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('Upgrade Required');
  });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, port: (server.address() as AddressInfo).port, seen });
    });
  });
}

/** Milliseconds from request to the first body byte, and the whole body. */
function timeFirstByte(url: string): Promise<{ firstByteMs: number; totalMs: number; body: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let firstByteMs = -1;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - start;
        body += chunk;
      });
      res.on('end', () => resolve({ firstByteMs, totalMs: performance.now() - start, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('nginx edge', { timeout: 20_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let edge: NginxEdge;

  before(async () => {
    upstream = await startUpstream();
    edge = await startNginx({ upstream: `127.0.0.1:${upstream.port}` });
  });

  after(async () => {
    await edge?.stop();
    upstream?.server.closeAllConnections();
    await new Promise((resolve) => upstream?.server.close(resolve));
  });

  it('upgrades /ws over HTTPS and echoes a message', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${edge.httpsPort}/ws`, { rejectUnauthorized: false });
    let status = 0;
    ws.once('upgrade', (res) => {
      status = res.statusCode ?? 0;
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.equal(status, 101);
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('hello through the edge');
    assert.equal(await reply, 'hello through the edge');
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
  });

  it('/stripped/ strips the Upgrade: upstream sees a key without Upgrade, client gets its 426', async () => {
    const before = upstream.seen.length;
    const ws = new WebSocket(`wss://127.0.0.1:${edge.httpsPort}/stripped/ws`, { rejectUnauthorized: false });
    ws.on('error', () => {});
    const status = await new Promise<number>((resolve) => {
      ws.once('upgrade', () => resolve(101));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
    });
    ws.terminate();
    assert.equal(status, 426);
    const seen = upstream.seen.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, '/ws');
    assert.equal(typeof seen[0]!.headers['sec-websocket-key'], 'string');
    assert.equal(seen[0]!.headers['sec-websocket-version'], '13');
    assert.equal(seen[0]!.headers.upgrade, undefined);
    assert.equal(seen[0]!.headers.connection, 'close');
  });

  it('/buffered/ holds a slow stream until it ends; / passes it through at once', async (t) => {
    const direct = await timeFirstByte(`${edge.httpUrl}/slow`);
    const buffered = await timeFirstByte(`${edge.httpUrl}/buffered/slow`);
    t.diagnostic(
      `first byte: direct ${Math.round(direct.firstByteMs)} ms, buffered ${Math.round(buffered.firstByteMs)} ms`,
    );
    const expected = 'data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n';
    assert.equal(direct.body, expected);
    assert.equal(buffered.body, expected);
    // Through `/`: the first event arrives ~250 ms in, long before the stream ends (~1250 ms).
    assert.ok(direct.firstByteMs < 700, `direct first byte at ${direct.firstByteMs} ms`);
    // Through `/buffered/`: nothing until the end of the stream.
    assert.ok(buffered.firstByteMs >= 1150, `buffered first byte at ${buffered.firstByteMs} ms`);
    assert.ok(buffered.totalMs - buffered.firstByteMs < 100, 'buffered body arrives in one go at the end');
  });

  it('reload() checks the config, reloads gracefully and keeps serving', async () => {
    const pid = edge.pid;
    await edge.reload();
    assert.equal(edge.pid, pid);
    const ws = new WebSocket(`ws://127.0.0.1:${edge.httpPort}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
  });
});
