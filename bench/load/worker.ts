/**
 * One load-generator thread. It speaks WebSocket over raw TCP sockets with frames built up
 * front (bench/lib/frames.ts), so the generator spends its CPU on syscalls, not on framing:
 * replies are counted by size (every reply of a workload has the same length) and never parsed.
 *
 * The main thread sends `{ id, cmd, args }` and gets `{ id, result }` or `{ id, error }` back.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { buildFrame, closeFrame, repeatFrame, serverFrameSize, textFrame } from '../lib/frames.js';
import type { Phase } from './pool.js';

/** Tells the main thread that this worker's measured window opened or closed. */
type Mark = (phase: Phase) => void;

export interface Endpoint {
  host: string;
  port: number;
  path: string;
  /** Source addresses, used round-robin (127.0.0.x) to spread the ephemeral-port space. */
  localAddresses: string[];
  /** Sec-WebSocket-Protocol to offer (graphql-transport-ws). */
  protocol?: string;
  /**
   * A protocol's opening, after the 101 and before the workload: text messages to send, then
   * how many server messages to read and drop (Socket.IO: the open packet and the CONNECT answer).
   */
  greeting?: { send: string[]; skip: number };
}

export interface EchoArgs extends Endpoint {
  /** Send this text (a protocol message) instead of `payload` random bytes; the reply has its length. */
  text?: string;
  conns: number;
  window: number;
  payload: number;
  warmupMs: number;
  durationMs: number;
}
export interface EchoResult {
  connected: number;
  errors: number;
  /** Replies received inside the measured window. */
  messages: number;
  elapsedMs: number;
}

export interface LatencyArgs extends Endpoint {
  conns: number;
  /** Messages per second this thread sends, spread evenly over its connections. */
  rate: number;
  payload: number;
  warmupMs: number;
  durationMs: number;
  /** Measure while the main thread's shared window is open instead of after warmupMs for durationMs. */
  sharedWindow?: boolean;
}
/**
 * The measured window of side-by-side runs, opened and closed by the main thread for every
 * command at once (LatencyArgs.sharedWindow), so two proxies are measured over the same time.
 */
let sharedWindow: 'waiting' | 'open' | 'closed' = 'waiting';

export interface LatencyResult {
  connected: number;
  errors: number;
  sent: number;
  /** Round-trip times in microseconds, measured window only. */
  samplesUs: number[];
}

export interface HandshakeArgs extends Endpoint {
  concurrency: number;
  durationMs: number;
}
export interface HandshakeResult {
  completed: number;
  failed: number;
  elapsedMs: number;
  /** Connect → 101 received, in microseconds. */
  samplesUs: number[];
}

export interface IdleOpenArgs extends Endpoint {
  count: number;
  concurrency: number;
}

const KEY_HEADERS = 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const HEAD_END = Buffer.from('\r\n\r\n');
const CLOSE = closeFrame();

/** Opens a TCP connection and performs the WebSocket upgrade; resolves with the socket after the 101. */
export function openWs(ep: Endpoint, index: number, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const localAddress = ep.localAddresses[index % ep.localAddresses.length];
    const socket = connect({ host: ep.host, port: ep.port, localAddress, noDelay: true });
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('handshake timeout')), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('closed during handshake')));
    socket.on('connect', () => {
      const protocol = ep.protocol ? `Sec-WebSocket-Protocol: ${ep.protocol}\r\n` : '';
      socket.write(
        `GET ${ep.path} HTTP/1.1\r\nHost: ${ep.host}:${ep.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${KEY_HEADERS}${protocol}\r\n`,
      );
    });
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > 16384) fail(new Error('response head too large'));
        return;
      }
      if (head.toString('latin1', 0, 12) !== 'HTTP/1.1 101') {
        fail(new Error(`upgrade refused: ${head.toString('latin1', 0, Math.min(end, 80))}`));
        return;
      }
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      const rest = head.subarray(end + 4);
      if (!ep.greeting) {
        resolve(socket);
        if (rest.length > 0) socket.unshift(rest);
        return;
      }
      greet(socket, ep.greeting, rest, timeoutMs).then(resolve, (err: Error) => {
        socket.destroy();
        reject(err);
      });
    };
    socket.on('data', onData);
  });
}

/** Sends the greeting's messages, then reads and drops `skip` server frames (unmasked, < 64 KiB). */
function greet(
  socket: Socket,
  greeting: { send: string[]; skip: number },
  rest: Buffer,
  timeoutMs: number,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let buf = rest;
    let skipped = 0;
    const timer = setTimeout(() => done(new Error('no protocol greeting from the server')), timeoutMs);
    const done = (err: Error | null) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (err) return reject(err);
      resolve(socket);
      if (buf.length > 0) socket.unshift(buf);
    };
    const consume = () => {
      while (skipped < greeting.skip && buf.length >= 2) {
        const len7 = buf[1] & 0x7f;
        const header = len7 === 126 ? 4 : 2;
        if (len7 === 127) return done(new Error('greeting frame too large'));
        if (buf.length < header) return;
        const len = len7 === 126 ? buf.readUInt16BE(2) : len7;
        if (buf.length < header + len) return;
        buf = buf.subarray(header + len);
        skipped++;
      }
      if (skipped === greeting.skip) done(null);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      consume();
    };
    socket.on('data', onData);
    for (const m of greeting.send) socket.write(textFrame(m, true));
    consume();
  });
}

async function openMany(
  ep: Endpoint,
  count: number,
  concurrency: number,
): Promise<{ sockets: Socket[]; errors: number }> {
  const sockets: Socket[] = [];
  let errors = 0;
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      try {
        sockets.push(await openWs(ep, i));
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { sockets, errors };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every reply of a workload has the same size, so replies are counted by bytes, never parsed:
 * `onReplies(k)` runs once per read that completes k more of them.
 */
function onReplies(s: Socket, replySize: number, handle: (k: number) => void): void {
  let partial = 0;
  s.on('data', (chunk: Buffer) => {
    partial += chunk.length;
    if (partial < replySize) return;
    const k = Math.floor(partial / replySize);
    partial -= k * replySize;
    handle(k);
  });
}

async function echo(a: EchoArgs, mark: Mark): Promise<EchoResult> {
  const clientFrame =
    a.text === undefined ? buildFrame(a.payload, { masked: true }) : textFrame(a.text, true);
  const win = repeatFrame(clientFrame, a.window);
  // slices[k] = k frames, precomputed so a reply costs one write and no allocation.
  const slices = Array.from({ length: a.window + 1 }, (_, k) => win.subarray(0, k * clientFrame.length));
  const replySize = serverFrameSize(a.text === undefined ? a.payload : Buffer.byteLength(a.text));
  const { sockets, errors: openErrors } = await openMany(a, a.conns, 64);
  let errors = openErrors;
  let received = 0;
  let running = true;
  for (const s of sockets) {
    s.on('error', () => errors++);
    onReplies(s, replySize, (k) => {
      received += k;
      if (running) s.write(slices[Math.min(k, a.window)]);
    });
    s.write(win);
  }
  await sleep(a.warmupMs);
  mark('start');
  const r0 = received;
  const t0 = performance.now();
  await sleep(a.durationMs);
  const messages = received - r0;
  const elapsedMs = performance.now() - t0;
  mark('end');
  running = false;
  for (const s of sockets) s.destroy();
  return { connected: sockets.length, errors, messages, elapsedMs };
}

async function latency(a: LatencyArgs, mark: Mark): Promise<LatencyResult> {
  const frame = buildFrame(a.payload, { masked: true });
  const replySize = serverFrameSize(a.payload);
  const { sockets, errors: openErrors } = await openMany(a, a.conns, 64);
  let errors = openErrors;
  const samplesUs: number[] = [];
  let measuring = false;
  const queues: number[][] = sockets.map(() => []);
  sockets.forEach((s, i) => {
    const q = queues[i];
    s.on('error', () => errors++);
    onReplies(s, replySize, (k) => {
      const now = performance.now();
      for (let i = 0; i < k; i++) {
        const t = q.shift();
        if (t !== undefined && measuring) samplesUs.push((now - t) * 1000);
      }
    });
  });
  if (sockets.length === 0) return { connected: 0, errors, sent: 0, samplesUs };
  // Open loop: send what the schedule says is due, whatever the replies do, round-robin.
  let sent = 0;
  let rr = 0;
  const start = performance.now();
  const end = start + a.warmupMs + a.durationMs;
  let ready = false;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (a.sharedWindow) {
        if (!ready && now - start >= a.warmupMs) {
          ready = true;
          mark('start'); // ready: the main thread opens the window once every command is
        }
        measuring = sharedWindow === 'open';
        if (sharedWindow === 'closed') return resolve();
      } else if (!measuring && now - start >= a.warmupMs) {
        measuring = true;
        mark('start');
      }
      const due = Math.floor(((now - start) * a.rate) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const idx = rr++ % sockets.length;
        queues[idx].push(performance.now());
        sockets[idx].write(frame);
        sent++;
      }
      if (now >= end && !a.sharedWindow) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  if (!a.sharedWindow) await sleep(200); // let the last replies arrive
  mark('end');
  for (const s of sockets) s.destroy();
  return { connected: sockets.length, errors, sent, samplesUs };
}

async function handshakes(a: HandshakeArgs): Promise<HandshakeResult> {
  const samplesUs: number[] = [];
  let completed = 0;
  let failed = 0;
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + a.durationMs;
  const one = (index: number) =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      openWs(a, index, 5000).then(
        (s) => {
          samplesUs.push((performance.now() - start) * 1000);
          const timer = setTimeout(() => s.destroy(), 5000);
          s.on('error', () => {});
          s.on('data', () => {}); // the server's close frame
          s.on('close', () => {
            clearTimeout(timer);
            completed++;
            resolve();
          });
          s.write(CLOSE);
        },
        () => {
          failed++;
          setTimeout(resolve, 5);
        },
      );
    });
  const lane = async (lane: number) => {
    while (performance.now() < deadline) await one(lane + a.concurrency * n++);
  };
  await Promise.all(Array.from({ length: a.concurrency }, (_, i) => lane(i)));
  return { completed, failed, elapsedMs: performance.now() - t0, samplesUs };
}

// ---- plain HTTP: keep-alive requests, long-poll cycles, SSE streams ----

export interface HttpArgs extends Endpoint {
  conns: number;
  warmupMs: number;
  durationMs: number;
}
export interface HttpResult {
  connected: number;
  errors: number;
  /** Responses completed inside the measured window. */
  responses: number;
  /** Connections that had to be opened again because the server closed one. */
  reconnects: number;
  /** Responses that were not 200. */
  bad: number;
  elapsedMs: number;
  /** Request sent → response complete, in microseconds, measured window only. */
  samplesUs: number[];
}

const HEAD_SEP = 0x0a;

/**
 * Reads HTTP/1.1 responses off one keep-alive connection: the status, Content-Length or chunked
 * bodies (until the last chunk), and whether the server said `Connection: close`.
 */
class ResponseReader {
  private head = '';
  private inBody = false;
  private bodyLeft = 0;
  private chunked = false;
  private tail = '';
  status = 0;
  close = false;

  /** Feeds bytes; returns how many responses completed. */
  push(chunk: Buffer): number {
    let done = 0;
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.inBody) {
        const text = chunk.toString('latin1', pos);
        const joined = this.head + text;
        const end = joined.indexOf('\r\n\r\n');
        if (end < 0) {
          this.head = joined;
          return done;
        }
        const head = joined.slice(0, end);
        pos += end + 4 - this.head.length;
        this.head = '';
        this.status = Number(head.slice(9, 12));
        const lower = head.toLowerCase();
        this.close = /\r\nconnection: *close/.test(lower);
        const cl = /\r\ncontent-length: *(\d+)/.exec(lower);
        this.chunked = cl === null && /\r\ntransfer-encoding: *chunked/.test(lower);
        this.bodyLeft = cl ? Number(cl[1]) : 0;
        this.tail = '';
        this.inBody = true;
      }
      if (this.chunked) {
        // Enough for our small bodies: the response ends with the zero-length chunk.
        this.tail = (this.tail + chunk.toString('latin1', pos)).slice(-7);
        pos = chunk.length;
        if (!this.tail.endsWith('\n0\r\n\r\n')) continue;
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - pos);
        this.bodyLeft -= take;
        pos += take;
        if (this.bodyLeft > 0) continue;
      }
      this.inBody = false;
      done++;
    }
    return done;
  }
}

/**
 * Closed-loop HTTP: each connection sends one GET, waits for the whole response, sends the next
 * (keep-alive). A connection the server closes is opened again (counted as a reconnect).
 */
async function httpRequests(a: HttpArgs & { path: string }, mark: Mark): Promise<HttpResult> {
  const req = Buffer.from(`GET ${a.path} HTTP/1.1\r\nHost: ${a.host}:${a.port}\r\n\r\n`);
  let errors = 0;
  let responses = 0;
  let reconnects = 0;
  let bad = 0;
  let connected = 0;
  let measuring = false;
  let running = true;
  const samplesUs: number[] = [];
  const sockets = new Set<Socket>();
  const open = (index: number, again: boolean) => {
    const localAddress = a.localAddresses[index % a.localAddresses.length];
    const s = connect({ host: a.host, port: a.port, localAddress, noDelay: true });
    sockets.add(s);
    const reader = new ResponseReader();
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      s.write(req);
    };
    s.on('connect', () => {
      if (again) reconnects++;
      else connected++;
      send();
    });
    s.on('data', (chunk: Buffer) => {
      const n = reader.push(chunk);
      if (n === 0) return;
      if (measuring) {
        responses += n;
        samplesUs.push((performance.now() - sentAt) * 1000);
        if (reader.status !== 200) bad++;
      }
      if (!running) return;
      if (reader.close) s.end();
      else send();
    });
    s.on('error', () => errors++);
    s.on('close', () => {
      sockets.delete(s);
      if (running) open(index, true);
    });
  };
  for (let i = 0; i < a.conns; i++) open(i, false);
  await sleep(a.warmupMs);
  measuring = true;
  mark('start');
  const t0 = performance.now();
  await sleep(a.durationMs);
  measuring = false;
  const elapsedMs = performance.now() - t0;
  mark('end');
  running = false;
  for (const s of sockets) s.destroy();
  return { connected, errors, responses, reconnects, bad, elapsedMs, samplesUs };
}

export interface SseArgs extends Endpoint {
  clients: number;
  warmupMs: number;
  durationMs: number;
}
export interface SseResult {
  connected: number;
  errors: number;
  /** Events received inside the measured window, over all clients. */
  events: number;
  elapsedMs: number;
}

/** SSE fan-out: `clients` streams of the same backend feed; counts events (blank-line ends). */
async function sse(a: SseArgs, mark: Mark): Promise<SseResult> {
  const req = Buffer.from(
    `GET ${a.path} HTTP/1.1\r\nHost: ${a.host}:${a.port}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  let errors = 0;
  let events = 0;
  let connected = 0;
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: a.clients },
      (_, i) =>
        new Promise<void>((resolve) => {
          const localAddress = a.localAddresses[i % a.localAddresses.length];
          const s = connect({ host: a.host, port: a.port, localAddress, noDelay: true });
          sockets.push(s);
          let inHead = true;
          let last = 0;
          const timer = setTimeout(resolve, 10_000);
          s.on('connect', () => s.write(req));
          s.on('error', () => {
            errors++;
            resolve();
          });
          s.on('data', (chunk: Buffer) => {
            let i0 = 0;
            if (inHead) {
              const end = chunk.indexOf('\r\n\r\n');
              if (end < 0) return; // our backend's head fits one read
              inHead = false;
              connected++;
              clearTimeout(timer);
              resolve();
              i0 = end + 4;
            }
            // An event ends with "\n\n" (chunk framing puts "\r\n" around, never "\n\n").
            for (let i = i0; i < chunk.length; i++) {
              const b = chunk[i];
              if (b === HEAD_SEP && last === HEAD_SEP) events++;
              last = b;
            }
          });
        }),
    ),
  );
  await sleep(a.warmupMs);
  mark('start');
  const e0 = events;
  const t0 = performance.now();
  await sleep(a.durationMs);
  const got = events - e0;
  const elapsedMs = performance.now() - t0;
  mark('end');
  for (const s of sockets) s.destroy();
  return { connected, errors, events: got, elapsedMs };
}

export interface BroadcastArgs extends Endpoint {
  clients: number;
  /** Whether this worker also sends the triggers (exactly one worker does). */
  trigger: boolean;
  /** Broadcasts per second. */
  rate: number;
  payload: number;
  warmupMs: number;
  durationMs: number;
}
export interface BroadcastResult {
  connected: number;
  errors: number;
  /** Messages received inside the measured window, over all clients. */
  delivered: number;
  /** Broadcasts sent inside the measured window (by the trigger worker). */
  sent: number;
  elapsedMs: number;
}

/**
 * Broadcast: `clients` WebSockets join the backend's room; one of them sends a message `rate`
 * times a second, and the backend sends it to every member (the sender included).
 */
async function broadcast(a: BroadcastArgs, mark: Mark): Promise<BroadcastResult> {
  const frame = buildFrame(a.payload, { masked: true });
  const replySize = serverFrameSize(a.payload);
  const { sockets, errors: openErrors } = await openMany(a, a.clients, 64);
  let errors = openErrors;
  let delivered = 0;
  for (const s of sockets) {
    s.on('error', () => errors++);
    onReplies(s, replySize, (k) => {
      delivered += k;
    });
  }
  let sent = 0;
  let sentInWindow = 0;
  let timer: NodeJS.Timeout | undefined;
  let measuring = false;
  if (a.trigger && sockets.length > 0) {
    const start = performance.now();
    const tick = () => {
      const due = Math.floor(((performance.now() - start) * a.rate) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        sockets[0].write(frame);
        sent++;
        if (measuring) sentInWindow++;
      }
      timer = setTimeout(tick, 2);
    };
    tick();
  }
  await sleep(a.warmupMs);
  measuring = true;
  mark('start');
  const d0 = delivered;
  const t0 = performance.now();
  await sleep(a.durationMs);
  const got = delivered - d0;
  const elapsedMs = performance.now() - t0;
  measuring = false;
  mark('end');
  clearTimeout(timer);
  await sleep(100);
  for (const s of sockets) s.destroy();
  return { connected: sockets.length, errors, delivered: got, sent: sentInWindow, elapsedMs };
}

let idle: Socket[] = [];

async function idleOpen(a: IdleOpenArgs): Promise<{ opened: number; errors: number }> {
  const { sockets, errors } = await openMany(a, a.count, a.concurrency);
  for (const s of sockets) s.on('error', () => {});
  idle.push(...sockets);
  return { opened: sockets.length, errors };
}

async function idleClose(): Promise<{ closed: number }> {
  const sockets = idle;
  idle = [];
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          const timer = setTimeout(() => s.destroy(), 5000);
          s.on('data', () => {});
          s.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          s.write(CLOSE);
        }),
    ),
  );
  return { closed: sockets.length };
}

// biome-ignore lint/suspicious/noExplicitAny: message dispatch over a typed protocol
const handlers: Record<string, (args: any, mark: Mark) => Promise<unknown>> = {
  echo,
  latency,
  handshakes,
  httpRequests,
  sse,
  broadcast,
  idleOpen,
  idleClose,
};

parentPort?.on('message', (msg: { id: number; cmd: string; args: unknown; window?: typeof sharedWindow }) => {
  if (msg.window !== undefined) {
    sharedWindow = msg.window;
    return;
  }
  const h = handlers[msg.cmd];
  if (!h) {
    parentPort?.postMessage({ id: msg.id, error: `unknown command ${msg.cmd}` });
    return;
  }
  const mark: Mark = (phase) => parentPort?.postMessage({ id: msg.id, phase });
  h(msg.args, mark).then(
    (result) => parentPort?.postMessage({ id: msg.id, result }),
    (err: Error) => parentPort?.postMessage({ id: msg.id, error: err.stack ?? String(err) }),
  );
});
