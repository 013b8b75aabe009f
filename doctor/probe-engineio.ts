/**
 * Step 7: a Socket.IO endpoint, the way a Socket.IO client meets it. First the engine.io
 * handshake over HTTP long-polling (GET `?EIO=4&transport=polling`, answered by an open packet:
 * sid, upgrades, pingInterval, pingTimeout), then the upgrade of that session to WebSocket
 * (`?EIO=4&transport=websocket&sid=…`, a 101, the "2probe"/"3probe" exchange and the "5"
 * upgrade packet), then a polite close ("1"). Where it stops is the finding: a stripped upgrade
 * leaves polling working and every client stuck on it.
 */
import { openConnection } from './connect.js';
import { DoctorError, describeError } from './errors.js';
import { expectedAccept, headerList, newKey, readResponseHead, upgradeRequest } from './handshake.js';
import { timedGet } from './http-get.js';
import type { DoctorOptions } from './options.js';
import { type Check, ms, stepResult } from './report.js';
import { WsSession } from './ws-session.js';

/** engine.io packet types (the first character of each packet). */
const PACKET = { open: '0', close: '1', ping: '2', pong: '3', upgrade: '5' } as const;
/** Separates packets in one polling payload (engine.io v4). */
const RECORD_SEPARATOR = '\x1e';
/** A polling answer larger than this is not an open packet. */
const MAX_BODY = 64 * 1024;

/** What the open packet announced. */
export interface EngineOpen {
  readonly sid: string;
  readonly upgrades: readonly string[];
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly maxPayload: number | null;
}

/** Reads the open packet at the start of a polling payload; null if the body is not one. */
export function parseOpenPacket(body: string): EngineOpen | null {
  const first = body.split(RECORD_SEPARATOR)[0];
  if (!first.startsWith(PACKET.open)) return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(first.slice(1)) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || typeof o.sid !== 'string' || o.sid === '') return null;
  if (!Array.isArray(o.upgrades) || typeof o.pingInterval !== 'number' || typeof o.pingTimeout !== 'number')
    return null;
  return {
    sid: o.sid,
    upgrades: o.upgrades.filter((u): u is string => typeof u === 'string'),
    pingInterval: o.pingInterval,
    pingTimeout: o.pingTimeout,
    maxPayload: typeof o.maxPayload === 'number' ? o.maxPayload : null,
  };
}

/** An engine.io error answer: {"code":3,"message":"Bad request"}. */
export function parseEngineError(body: string): { code: number; message: string } | null {
  try {
    const o = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof o?.code === 'number' && typeof o.message === 'string')
      return { code: o.code, message: o.message };
  } catch {
    // not JSON
  }
  return null;
}

/** Reads a whole (small) answer body, or what arrived of it within `timeoutMs`. */
function readBody(res: import('node:http').IncomingMessage, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      clearTimeout(timer);
      res.destroy();
      resolve(text);
    };
    const timer = setTimeout(finish, timeoutMs);
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      text += c;
      if (text.length > MAX_BODY) finish();
    });
    res.once('end', finish);
    res.once('error', finish);
  });
}

const snippet = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 120);

export interface EngineioResult {
  readonly checks: readonly [Check, Check];
}

export async function probeEngineio(opts: DoctorOptions): Promise<EngineioResult> {
  const base = opts.engineio!;
  const open = await probeOpen(opts, base);
  if (open.session === null) {
    const why = 'no engine.io session to upgrade';
    return {
      checks: [
        open.check,
        {
          id: 'eio.upgrade',
          title: 'engine.io upgrade',
          status: 'skip',
          summary: why,
          durationMs: 0,
          data: {},
        },
      ],
    };
  }
  return { checks: [open.check, await probeEngineUpgrade(opts, base, open.session)] };
}

async function probeOpen(
  opts: DoctorOptions,
  base: string,
): Promise<{ check: Check; session: EngineOpen | null }> {
  const path = `${base}?EIO=4&transport=polling`;
  const done = stepResult('eio.open', 'engine.io handshake', { path });
  let response: Awaited<ReturnType<typeof timedGet>>;
  try {
    response = await timedGet(opts.target, path, { accept: '*/*', origin: opts.origin }, opts.timeoutMs);
  } catch (err) {
    const held = err instanceof DoctorError && err.code === 'SL_DOCTOR_NO_HEADERS';
    return {
      check: done('fail', `GET ${path}: ${describeError(err)}`, {
        status: null,
        engineio: held ? null : false,
        error: describeError(err),
      }),
      session: null,
    };
  }
  const { res, headersMs } = response;
  const status = res.statusCode ?? 0;
  const body = await readBody(res, opts.timeoutMs);
  const data = {
    status,
    contentType: res.headers['content-type'] ?? null,
    headersMs: ms(headersMs),
    body: snippet(body),
  };
  const said = data.body ? ` "${data.body}"` : '';
  const session = status === 200 ? parseOpenPacket(body) : null;
  if (session) {
    const { sid, upgrades, pingInterval, pingTimeout } = session;
    return {
      check: done(
        'ok',
        `polling works: sid ${sid}, upgrades [${upgrades.join(', ')}], pingInterval ${pingInterval} ms, pingTimeout ${pingTimeout} ms (HTTP 200 in ${ms(headersMs)} ms)`,
        { ...data, engineio: true, ...session },
      ),
      session,
    };
  }
  const refused = parseEngineError(body);
  if (refused)
    return {
      check: done(
        'fail',
        `the engine.io server refused the handshake: HTTP ${status} ${refused.message} (code ${refused.code})`,
        { ...data, engineio: true, errorCode: refused.code, errorMessage: refused.message },
      ),
      session: null,
    };
  return {
    check: done(
      'fail',
      `no engine.io server at ${base}: HTTP ${status}${said}${status === 200 ? ' is not an open packet' : ''}`,
      { ...data, engineio: false },
    ),
    session: null,
  };
}

async function probeEngineUpgrade(opts: DoctorOptions, base: string, session: EngineOpen): Promise<Check> {
  const path = `${base}?EIO=4&transport=websocket&sid=${encodeURIComponent(session.sid)}`;
  const done = stepResult('eio.upgrade', 'engine.io upgrade', { path });
  if (!session.upgrades.includes('websocket'))
    return done(
      'warn',
      `the server offers no WebSocket upgrade (upgrades: [${session.upgrades.join(', ')}]): clients stay on polling`,
      { status: null, offered: false },
    );
  let conn: Awaited<ReturnType<typeof openConnection>>;
  try {
    conn = await openConnection(opts.target, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    return done('fail', `no connection for the upgrade: ${describeError(err)}`, { status: null });
  }
  const key = newKey();
  const t0 = performance.now();
  conn.socket.write(
    upgradeRequest({ ...opts.target, path }, { key, origin: opts.origin, protocols: [], extensions: '' }),
  );
  let head: Awaited<ReturnType<typeof readResponseHead>>;
  try {
    head = await readResponseHead(conn.socket, opts.timeoutMs);
  } catch (err) {
    conn.socket.destroy();
    return done('fail', `no answer to the upgrade: ${describeError(err)}`, {
      status: null,
      error: describeError(err),
    });
  }
  const handshakeMs = performance.now() - t0;
  const h = head.headers;
  const switched =
    head.statusCode === 101 &&
    (h.upgrade ?? '').toLowerCase() === 'websocket' &&
    headerList(h.connection, true).includes('upgrade') &&
    h['sec-websocket-accept'] === expectedAccept(key);
  const statusLine = `HTTP/${head.httpVersion} ${head.statusCode} ${head.reason}`.trim();
  if (!switched) {
    conn.socket.destroy();
    const body = head.statusCode === 101 ? '' : bodyText(head.rest);
    const refused = parseEngineError(body);
    const data = {
      status: head.statusCode,
      handshakeMs: ms(handshakeMs),
      body: snippet(body),
      errorCode: refused?.code ?? null,
      errorMessage: refused?.message ?? null,
    };
    if (head.statusCode === 101)
      return done('fail', `${statusLine}, but the 101 is incomplete (Upgrade, Connection or Accept)`, data);
    return done(
      'fail',
      `${statusLine}${data.body ? ` ("${data.body}")` : ''}, not 101: the upgrade reached the server as a plain GET`,
      { ...data, stripped: [200, 400, 426].includes(head.statusCode) },
    );
  }
  const ws = new WsSession(conn.socket, head.rest, false);
  const sentProbe = performance.now();
  const answer = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), opts.timeoutMs);
    ws.onMessage = (m) => {
      if (m.text === `${PACKET.pong}probe`) {
        clearTimeout(timer);
        resolve(m.text);
      }
    };
    ws.ended.then(() => {
      clearTimeout(timer);
      resolve(null);
    });
    ws.sendText(`${PACKET.ping}probe`);
  });
  const probeMs = performance.now() - sentProbe;
  ws.onMessage = null;
  const data = {
    status: 101,
    handshakeMs: ms(handshakeMs),
    probeMs: answer ? ms(probeMs) : null,
  };
  if (!answer) {
    const end = ws.isOpen ? null : await ws.ended;
    ws.destroy();
    return done(
      'fail',
      `${statusLine} in ${ms(handshakeMs)} ms, but "2probe" got no "3probe" ${end ? `(the connection ended: ${end.how}${end.code ? ` ${end.code}` : ''})` : `within ${opts.timeoutMs} ms`}: the WebSocket does not carry engine.io`,
      data,
    );
  }
  // The upgrade proper, then close the session as a client leaving would.
  ws.sendText(PACKET.upgrade);
  ws.sendText(PACKET.close);
  await ws.close(Math.min(1000, opts.timeoutMs));
  return done(
    'ok',
    `${statusLine} in ${ms(handshakeMs)} ms with sid ${session.sid}; 2probe→3probe ${ms(probeMs)} ms; upgraded`,
    data,
  );
}

/** The body of a plain answer read with its head (a chunked body's size lines skipped). */
function bodyText(rest: Buffer): string {
  return rest
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '' && !/^[0-9a-f]+$/i.test(l.trim()))
    .join(' ');
}
