/**
 * Load with network faults: N WebSocket clients → Toxiproxy (latency + jitter both ways, and
 * reset_peer toxics with toxicity < 1) → a sidecar child process → the fault backend (echo).
 * Every client sends sequence-numbered messages without waiting for the echoes and checks each
 * echo end to end: same connection, next sequence number, same bytes. A connection that gets
 * every echo and closes with 1000 is "kept"; the others were reset (before the 101 reached the
 * client, or mid-stream). On every connection, kept or not, the echoes received must be a gap-free,
 * in-order prefix of what was sent.
 *
 * Two reset toxics: one on the server→client stream from the start (it swallows the first chunk,
 * the 101, and resets), and one on the client→server stream added while the clients are sending
 * (toxiproxy rolls toxicity per existing connection; it swallows the next chunk and resets after
 * `midResetAfterMs`).
 */
import WebSocket from 'ws';
import { freePort } from '../../../lab/runner/ports.js';
import { startToxiproxy, type ToxiproxyServer } from '../../../lab/runner/components/toxiproxy.js';
import { waitUntil } from '../../helpers/raw.js';
import { type SidecarChild, spawnSidecar } from '../../helpers/sidecar-child.js';
import { type FaultBackend, startFaultBackend } from './fault-backend.js';
import { sleep } from './wire.js';

export interface ToxicLoadOptions {
  connections: number;
  messagesPerConnection: number;
  sendIntervalMs: number;
  /** Upgrades in flight at once while connecting. */
  connectConcurrency: number;
  latencyMs: number;
  jitterMs: number;
  /** Fraction of connections whose 101 is swallowed and reset. */
  handshakeResetToxicity: number;
  /** Fraction of connections reset mid-stream. */
  midResetToxicity: number;
  midResetAfterMs: number;
  /** Called with progress lines. */
  log?: (line: string) => void;
}

export interface ToxicLoadResult {
  connections: number;
  /** Got the 101 on the client. */
  opened: number;
  /** Every echo, in order, then a clean 1000 close. */
  kept: number;
  resetBeforeOpen: number;
  resetAfterOpen: number;
  /** Echoes checked (right connection, next sequence number, same bytes). */
  messagesChecked: number;
  messagesSent: number;
  /** Order, gap or content errors: must be empty. */
  violations: string[];
  /** Failures to open that were not resets (must be 0). */
  otherOpenFailures: string[];
  seconds: number;
  sidecar: {
    wsConnectionsActive: number;
    wsConnectionsOpened: number;
    closeLogLines: number;
    reasons: Record<string, number>;
    fds: { baseline: number; peak: number; final: number };
    rssMiB: { baseline: number; peak: number; final: number };
  };
  backendOpenSockets: number;
}

function payload(conn: number, seq: number): string {
  // 20..280 bytes, so messages straddle chunk boundaries in different ways.
  const pad = 20 + ((conn * 7919 + seq * 104729) % 260);
  return `${conn}:${seq}:${'abcdefghijklmnopqrstuvwxyz'.repeat(11).slice(0, pad)}`;
}

interface ConnState {
  opened: boolean;
  next: number;
  sent: number;
  code: number | null;
  openError: string | null;
}

async function runConnection(
  i: number,
  port: number,
  opts: ToxicLoadOptions,
  gate: Promise<void>,
  slots: { acquire(): Promise<void>; release(): void },
  result: ToxicLoadResult,
  opened: () => void,
): Promise<ConnState> {
  const st: ConnState = { opened: false, next: 0, sent: 0, code: null, openError: null };
  await slots.acquire();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?c=${i}`, {
    perMessageDeflate: false,
    handshakeTimeout: 15_000,
    localAddress: `127.0.0.${2 + (i % 50)}`,
  });
  ws.on('error', (e: NodeJS.ErrnoException) => {
    if (!st.opened && st.openError === null) st.openError = e.code ?? e.message;
  });
  ws.on('unexpected-response', (_req, res) => {
    st.openError = `status ${res.statusCode}`;
    ws.terminate();
  });
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    const want = payload(i, st.next);
    if (isBinary || text !== want) {
      if (result.violations.length < 50)
        result.violations.push(
          `conn ${i}: expected seq ${st.next}, got ${JSON.stringify(text.slice(0, 24))}`,
        );
      ws.terminate();
      return;
    }
    st.next++;
    result.messagesChecked++;
    if (st.next === opts.messagesPerConnection) ws.close(1000);
  });
  // Not events.once: it rejects when 'error' comes first, and ws emits 'error' before 'close'.
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (code: number) => {
      st.code = code;
      resolve();
    }),
  );
  const ev = await Promise.race([
    new Promise<string>((resolve) => ws.once('open', () => resolve('open'))),
    closed.then(() => 'closed'),
  ]);
  slots.release();
  if (ev !== 'open') {
    await closed;
    return st;
  }
  st.opened = true;
  opened();
  await gate;
  // Spread the first sends over one interval.
  await sleep((i * 13) % opts.sendIntervalMs);
  for (let seq = 0; seq < opts.messagesPerConnection; seq++) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(payload(i, seq));
    st.sent++;
    result.messagesSent++;
    await sleep(opts.sendIntervalMs);
  }
  const deadline = setTimeout(() => ws.terminate(), 20_000);
  await closed;
  clearTimeout(deadline);
  return st;
}

export async function runToxicLoad(opts: ToxicLoadOptions): Promise<ToxicLoadResult> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  let backend: FaultBackend | null = null;
  let sc: SidecarChild | null = null;
  let toxi: ToxiproxyServer | null = null;
  let sampler: NodeJS.Timeout | undefined;
  try {
    backend = await startFaultBackend();
    sc = await spawnSidecar(backend.port, { keepLogs: false });
    toxi = await startToxiproxy();
    const listen = await freePort();
    await toxi.createProxy('sidecar', listen, `127.0.0.1:${sc.port}`);
    for (const stream of ['upstream', 'downstream'] as const) {
      await toxi.addToxic('sidecar', {
        type: 'latency',
        stream,
        attributes: { latency: opts.latencyMs, jitter: opts.jitterMs },
      });
    }
    await toxi.addToxic('sidecar', {
      type: 'reset_peer',
      name: 'reset_handshake',
      stream: 'downstream',
      toxicity: opts.handshakeResetToxicity,
      attributes: { timeout: 0 },
    });
    const baseFds = await sc.baselineFds();
    const baseRss = sc.rssBytes();
    let peakFds = baseFds;
    let peakRss = baseRss;
    const child = sc;
    sampler = setInterval(() => {
      peakFds = Math.max(peakFds, child.fds());
      peakRss = Math.max(peakRss, child.rssBytes());
    }, 100);

    const result: ToxicLoadResult = {
      connections: opts.connections,
      opened: 0,
      kept: 0,
      resetBeforeOpen: 0,
      resetAfterOpen: 0,
      messagesChecked: 0,
      messagesSent: 0,
      violations: [],
      otherOpenFailures: [],
      seconds: 0,
      sidecar: {
        wsConnectionsActive: -1,
        wsConnectionsOpened: -1,
        closeLogLines: -1,
        reasons: {},
        fds: { baseline: baseFds, peak: 0, final: 0 },
        rssMiB: { baseline: 0, peak: 0, final: 0 },
      },
      backendOpenSockets: -1,
    };

    let free = opts.connectConcurrency;
    const waiters: Array<() => void> = [];
    const slots = {
      acquire: (): Promise<void> => {
        if (free === 0) return new Promise<void>((r) => waiters.push(r));
        free--;
        return Promise.resolve();
      },
      release: () => {
        const w = waiters.shift();
        if (w) w();
        else free++;
      },
    };
    let openGate!: () => void;
    const gate = new Promise<void>((r) => {
      openGate = r;
    });
    let settledOpens = 0;
    const conns = Array.from({ length: opts.connections }, (_, i) =>
      runConnection(i, listen, opts, gate, slots, result, () => {
        result.opened++;
      }).finally(() => {
        settledOpens++;
      }),
    );
    // Everyone has either opened or failed to open: start sending together.
    await waitUntil(
      () => result.opened + settledOpens >= opts.connections,
      120_000,
      'all connections opened or failed',
    );
    log(
      `toxic-load: ${result.opened}/${opts.connections} opened after ${Math.round(performance.now() - t0)} ms`,
    );
    openGate();
    // Mid-stream resets, while every client is sending.
    await sleep(opts.sendIntervalMs * Math.max(1, Math.floor(opts.messagesPerConnection / 3)));
    await toxi.addToxic('sidecar', {
      type: 'reset_peer',
      name: 'reset_mid',
      stream: 'upstream',
      toxicity: opts.midResetToxicity,
      attributes: { timeout: opts.midResetAfterMs },
    });
    log('toxic-load: mid-stream reset toxic added');
    const states = await Promise.all(conns);
    clearInterval(sampler);

    for (const [i, st] of states.entries()) {
      if (!st.opened) {
        if (st.openError === 'ECONNRESET' || st.openError === 'socket hang up' || st.openError === null)
          result.resetBeforeOpen++;
        else if (result.otherOpenFailures.length < 20)
          result.otherOpenFailures.push(`conn ${i}: ${st.openError}`);
        continue;
      }
      if (st.next === opts.messagesPerConnection && st.code === 1000) result.kept++;
      else result.resetAfterOpen++;
    }

    // The sidecar's side: everything closed and accounted for.
    const s = sc;
    await waitUntil(
      async () => (await s.metric('ws_connections_active')) === 0,
      15_000,
      'no active connections',
    );
    result.sidecar.wsConnectionsActive = await sc.metric('ws_connections_active');
    result.sidecar.wsConnectionsOpened = await sc.metric('ws_connections_opened_total');
    await waitUntil(
      () => s.logCount() === result.sidecar.wsConnectionsOpened,
      10_000,
      'close log complete',
    ).catch(() => {});
    result.sidecar.closeLogLines = sc.logCount();
    result.sidecar.reasons = Object.fromEntries([...sc.reasons].sort());
    const b = backend;
    await waitUntil(() => b.openSockets() === 0, 10_000, 'backend sockets closed').catch(() => {});
    result.backendOpenSockets = backend.openSockets();
    result.sidecar.fds.peak = peakFds;
    result.sidecar.fds.final = await sc.baselineFds();
    const MiB = 1024 * 1024;
    result.sidecar.rssMiB = {
      baseline: Math.round((baseRss / MiB) * 10) / 10,
      peak: Math.round((peakRss / MiB) * 10) / 10,
      final: Math.round((sc.rssBytes() / MiB) * 10) / 10,
    };
    result.seconds = Math.round((performance.now() - t0) / 100) / 10;
    return result;
  } finally {
    clearInterval(sampler);
    await toxi?.stop();
    await sc?.stop();
    await backend?.close();
  }
}
