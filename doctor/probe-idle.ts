/**
 * Step 3: how long a quiet WebSocket lives on this path, and whether pings keep it alive.
 *
 * First a fresh connection says nothing after its 101 for up to --idle-probe; if a hop cuts it,
 * we record when (from the 101, the last byte it carried) and how: a close frame with its code,
 * a TCP FIN, or a reset. Then a second connection pings every --ping-interval (default: a third
 * of the measured cut) for twice the measured cut, which no quiet connection survived.
 */
import { randomBytes } from 'node:crypto';
import { humanDuration } from '../proxy/config/units.js';
import { openConnection } from './connect.js';
import { DoctorError, describeError } from './errors.js';
import { expectedAccept, extensionNames } from './handshake.js';
import type { DoctorOptions } from './options.js';
import { upgrade } from './probe-ws.js';
import { type Check, type CheckStatus, ms } from './report.js';
import { type EndInfo, WsSession } from './ws-session.js';

/** Heartbeat assumed when --heartbeat is not given: Socket.IO pings every 25 s, ws's README uses 30 s. */
export const ASSUMED_HEARTBEAT_MS = 30_000;

async function openSession(opts: DoctorOptions): Promise<{ session: WsSession; upgradedAt: number }> {
  const conn = await openConnection(opts.target, { timeoutMs: opts.timeoutMs });
  const { key, head, error, at } = await upgrade(conn, opts);
  if (!head) throw new DoctorError('SL_DOCTOR_CLOSED', `upgrade failed: ${error}`);
  if (head.statusCode !== 101 || head.headers['sec-websocket-accept'] !== expectedAccept(key)) {
    conn.socket.destroy();
    throw new DoctorError('SL_DOCTOR_BAD_RESPONSE', `upgrade answered ${head.statusCode}, not a valid 101`);
  }
  const deflate = extensionNames(head.headers['sec-websocket-extensions']).includes('permessage-deflate');
  return { session: new WsSession(conn.socket, head.rest, deflate), upgradedAt: at };
}

export function describeEnd(end: EndInfo): string {
  switch (end.how) {
    case 'close-frame':
      return `close frame ${end.code}${end.reason ? ` "${end.reason}"` : ''}`;
    case 'fin':
      return 'TCP FIN without a close frame (clients see 1006)';
    case 'rst':
      return 'TCP reset (RST) (clients see 1006)';
    case 'error':
      return `socket error: ${end.error}`;
    case 'local':
      return 'closed locally';
  }
}

function endData(end: EndInfo | null, since: number) {
  if (!end) return null;
  return { how: end.how, afterMs: ms(end.at - since), code: end.code, reason: end.reason || null };
}

/** Waits until the session ends or `ms` pass; returns the end, or null when it lived. */
async function waitEnd(session: WsSession, ms: number): Promise<EndInfo | null> {
  let timer: NodeJS.Timeout | undefined;
  const lived = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  const end = await Promise.race([session.ended, lived]);
  clearTimeout(timer);
  return end;
}

export function defaultPingInterval(idleMs: number): number {
  const third = idleMs / 3;
  // Round down to a tidy figure (600 ms rather than 666.7 ms), never to zero.
  const step = third >= 10_000 ? 1000 : third >= 300 ? 100 : 10;
  return Math.max(10, Math.floor(third / step) * step);
}

export interface IdleResult {
  readonly checks: readonly Check[];
  /** The measured idle cut in ms, or null when the quiet connection lived through the probe. */
  readonly idleMs: number | null;
  readonly pingIntervalMs: number | null;
  readonly pingsKeptAlive: boolean | null;
}

export async function probeIdle(opts: DoctorOptions, onStep: (title: string) => void): Promise<IdleResult> {
  const heartbeat = opts.heartbeatMs || ASSUMED_HEARTBEAT_MS;
  onStep(`Idle timeout: holding a quiet WebSocket for up to ${humanDuration(opts.idleProbeMs)}`);
  const t0 = performance.now();
  let quiet: Awaited<ReturnType<typeof openSession>>;
  try {
    quiet = await openSession(opts);
  } catch (err) {
    const c: Check = {
      id: 'ws.idle',
      title: 'Idle timeout',
      status: 'fail',
      summary: `could not open a connection: ${describeError(err)}`,
      durationMs: ms(performance.now() - t0),
      data: { error: describeError(err) },
    };
    return {
      checks: [c, skipKeepalive('the idle probe could not run')],
      idleMs: null,
      pingIntervalMs: null,
      pingsKeptAlive: null,
    };
  }
  const end = await waitEnd(quiet.session, opts.idleProbeMs);
  quiet.session.destroy();
  const idleData = {
    probeMs: opts.idleProbeMs,
    idleTimeoutMs: end ? ms(end.at - quiet.upgradedAt) : null,
    end: endData(end, quiet.upgradedAt),
    serverPings: quiet.session.serverPings,
    heartbeatMs: opts.heartbeatMs || null,
  };
  if (!end) {
    const note =
      quiet.session.serverPings > 0
        ? ` (the server pinged ${quiet.session.serverPings}×, which counts as traffic)`
        : '';
    const c: Check = {
      id: 'ws.idle',
      title: 'Idle timeout',
      status: 'ok',
      summary: `a quiet connection stayed open for ${opts.idleProbeMs} ms${note}`,
      durationMs: ms(performance.now() - t0),
      data: idleData,
    };
    return {
      checks: [c, skipKeepalive('no idle cut to defend against')],
      idleMs: null,
      pingIntervalMs: null,
      pingsKeptAlive: null,
    };
  }
  const idleMs = end.at - quiet.upgradedAt;
  const idleStatus: CheckStatus = idleMs <= heartbeat ? 'fail' : opts.heartbeatMs ? 'ok' : 'warn';
  const vs = opts.heartbeatMs
    ? `your heartbeat is ${opts.heartbeatMs} ms`
    : `assumed heartbeat ${ASSUMED_HEARTBEAT_MS} ms; set --heartbeat`;
  const idleCheck: Check = {
    id: 'ws.idle',
    title: 'Idle timeout',
    status: idleStatus,
    summary: `quiet connection cut after ${ms(idleMs)} ms by ${describeEnd(end)} (${vs})`,
    durationMs: ms(performance.now() - t0),
    data: idleData,
  };

  const interval = opts.pingIntervalMs || defaultPingInterval(idleMs);
  // Twice the cut: a connection that outlives that has been saved by its pings, not by luck.
  const holdMs = Math.min(opts.idleProbeMs, Math.max(2 * idleMs, idleMs + 2 * interval));
  onStep(`Keep-alive: pinging every ${humanDuration(interval)} for ${humanDuration(holdMs)}`);
  const t1 = performance.now();
  let pinger: Awaited<ReturnType<typeof openSession>>;
  try {
    pinger = await openSession(opts);
  } catch (err) {
    return {
      checks: [
        idleCheck,
        { ...skipKeepalive(`could not open a connection: ${describeError(err)}`), status: 'fail' },
      ],
      idleMs,
      pingIntervalMs: interval,
      pingsKeptAlive: null,
    };
  }
  let pings = 0;
  let pongs = 0;
  pinger.session.onPong = () => pongs++;
  const timer = setInterval(() => {
    pings++;
    pinger.session.ping(randomBytes(4));
  }, interval);
  const pingEnd = await waitEnd(pinger.session, holdMs);
  clearInterval(timer);
  await pinger.session.close(Math.min(1000, opts.timeoutMs));
  const kept = pingEnd === null;
  const keepData = {
    pingIntervalMs: interval,
    heldMs: Math.round(holdMs),
    pings,
    pongs,
    end: endData(pingEnd, pinger.upgradedAt),
    survived: kept,
  };
  const keepCheck: Check = {
    id: 'ws.keepalive',
    title: 'Pings keep it alive',
    status: kept ? 'ok' : 'fail',
    summary: kept
      ? `pinging every ${interval} ms kept a connection open for ${Math.round(holdMs)} ms (${pongs}/${pings} pongs)`
      : `pinging every ${interval} ms did not help: cut after ${ms(pingEnd.at - pinger.upgradedAt)} ms by ${describeEnd(pingEnd)}`,
    durationMs: ms(performance.now() - t1),
    data: keepData,
  };
  return { checks: [idleCheck, keepCheck], idleMs, pingIntervalMs: interval, pingsKeptAlive: kept };
}

export function skipKeepalive(why: string): Check {
  return {
    id: 'ws.keepalive',
    title: 'Pings keep it alive',
    status: 'skip',
    summary: why,
    durationMs: 0,
    data: {},
  };
}
