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
import { buildFrame, closeFrame, repeatFrame, serverFrameSize } from '../lib/frames.js';

export interface Endpoint {
  host: string;
  port: number;
  path: string;
  /** Source addresses, used round-robin (127.0.0.x) to spread the ephemeral-port space. */
  localAddresses: string[];
}

export interface EchoArgs extends Endpoint {
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
}
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
      socket.write(
        `GET ${ep.path} HTTP/1.1\r\nHost: ${ep.host}:${ep.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${KEY_HEADERS}\r\n`,
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
      resolve(socket);
      if (rest.length > 0) socket.unshift(rest);
    };
    socket.on('data', onData);
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

async function echo(a: EchoArgs): Promise<EchoResult> {
  const clientFrame = buildFrame(a.payload, { masked: true });
  const win = repeatFrame(clientFrame, a.window);
  // slices[k] = k frames, precomputed so a reply costs one write and no allocation.
  const slices = Array.from({ length: a.window + 1 }, (_, k) => win.subarray(0, k * clientFrame.length));
  const replySize = serverFrameSize(a.payload);
  const { sockets, errors: openErrors } = await openMany(a, a.conns, 64);
  let errors = openErrors;
  let received = 0;
  let running = true;
  for (const s of sockets) {
    let partial = 0;
    s.on('error', () => errors++);
    s.on('data', (chunk: Buffer) => {
      partial += chunk.length;
      if (partial < replySize) return;
      const k = Math.floor(partial / replySize);
      partial -= k * replySize;
      received += k;
      if (running) s.write(slices[Math.min(k, a.window)]);
    });
    s.write(win);
  }
  await sleep(a.warmupMs);
  const r0 = received;
  const t0 = performance.now();
  await sleep(a.durationMs);
  const messages = received - r0;
  const elapsedMs = performance.now() - t0;
  running = false;
  for (const s of sockets) s.destroy();
  return { connected: sockets.length, errors, messages, elapsedMs };
}

async function latency(a: LatencyArgs): Promise<LatencyResult> {
  const frame = buildFrame(a.payload, { masked: true });
  const replySize = serverFrameSize(a.payload);
  const { sockets, errors: openErrors } = await openMany(a, a.conns, 64);
  let errors = openErrors;
  const samplesUs: number[] = [];
  let measuring = false;
  const queues: number[][] = sockets.map(() => []);
  sockets.forEach((s, i) => {
    const q = queues[i];
    let partial = 0;
    s.on('error', () => errors++);
    s.on('data', (chunk: Buffer) => {
      partial += chunk.length;
      if (partial < replySize) return;
      const now = performance.now();
      while (partial >= replySize) {
        partial -= replySize;
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
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (!measuring && now - start >= a.warmupMs) measuring = true;
      const due = Math.floor(((now - start) * a.rate) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const idx = rr++ % sockets.length;
        queues[idx].push(performance.now());
        sockets[idx].write(frame);
        sent++;
      }
      if (now >= end) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await sleep(200); // let the last replies arrive
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
const handlers: Record<string, (args: any) => Promise<unknown>> = {
  echo,
  latency,
  handshakes,
  idleOpen,
  idleClose,
};

parentPort?.on('message', (msg: { id: number; cmd: string; args: unknown }) => {
  const h = handlers[msg.cmd];
  if (!h) {
    parentPort?.postMessage({ id: msg.id, error: `unknown command ${msg.cmd}` });
    return;
  }
  h(msg.args).then(
    (result) => parentPort?.postMessage({ id: msg.id, result }),
    (err: Error) => parentPort?.postMessage({ id: msg.id, error: err.stack ?? String(err) }),
  );
});
