/**
 * Step 2: the WebSocket upgrade over an open connection, checked line by line, then a round
 * trip (a ping, which every RFC 6455 peer must answer, and a text frame, which only an echo
 * server answers).
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from './connect.js';
import { DoctorError, describeError } from './errors.js';
import {
  expectedAccept,
  extensionNames,
  headerList,
  newKey,
  type ResponseHead,
  readResponseHead,
  upgradeRequest,
} from './handshake.js';
import type { DoctorOptions } from './options.js';
import { type Check, type CheckStatus, ms } from './report.js';
import { type Message, WsSession } from './ws-session.js';

export interface UpgradeResult {
  /** Null when no answer head arrived (then `error` says why). */
  readonly head: ResponseHead | null;
  readonly error: string | null;
  readonly handshakeMs: number;
  /** The connection switched protocols and the accept hash verified. */
  readonly upgraded: boolean;
  readonly session: WsSession | null;
  /** When the 101 was read: the last moment the connection carried data. */
  readonly upgradedAt: number;
  readonly checks: readonly Check[];
}

function check(
  id: Check['id'],
  title: string,
  status: CheckStatus,
  summary: string,
  durationMs: number,
  data: Record<string, unknown>,
): Check {
  return { id, title, status, summary, durationMs: ms(durationMs), data };
}

/** Sends the upgrade request on `conn` and reads the answer. Builds no checks. */
export async function upgrade(conn: Connection, opts: DoctorOptions) {
  const key = newKey();
  const t0 = performance.now();
  conn.socket.write(
    upgradeRequest(opts.target, {
      key,
      origin: opts.origin,
      protocols: opts.protocols,
      extensions: opts.extensions,
    }),
  );
  try {
    const head = await readResponseHead(conn.socket, opts.timeoutMs);
    return {
      key,
      head,
      error: null,
      errorCode: null,
      handshakeMs: performance.now() - t0,
      at: performance.now(),
    };
  } catch (err) {
    conn.socket.destroy();
    return {
      key,
      head: null,
      error: describeError(err),
      errorCode: err instanceof DoctorError ? err.code : null,
      handshakeMs: performance.now() - t0,
      at: performance.now(),
    };
  }
}

/** Reads the first line of a plain answer's body, to show what the hop or server said. */
function bodySnippet(head: ResponseHead): string {
  const text = head.rest.toString('utf8');
  // A chunked body starts with a hex size line; skip it.
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !/^[0-9a-f]+$/i.test(l.trim()));
  return (lines[0] ?? '').slice(0, 120);
}

export async function probeUpgrade(conn: Connection, opts: DoctorOptions): Promise<UpgradeResult> {
  const { key, head, error, errorCode, handshakeMs, at } = await upgrade(conn, opts);
  const asked = opts.ws?.asked ?? true;
  const checks: Check[] = [];
  if (!head) {
    // How the server ended it tells a backend that refuses this path (closes or resets the
    // socket without a word, as Socket.IO does off its path) from one that is just slow.
    const ended =
      errorCode === 'SL_DOCTOR_CLOSED'
        ? 'fin'
        : errorCode === 'SL_DOCTOR_RESET'
          ? 'rst'
          : errorCode === 'SL_DOCTOR_TIMEOUT'
            ? 'timeout'
            : null;
    const said =
      ended === 'fin'
        ? 'the server closed the connection without answering the upgrade'
        : ended === 'rst'
          ? 'the server reset the connection without answering the upgrade'
          : `no answer: ${error}`;
    checks.push(
      check(
        'ws.upgrade',
        'WebSocket upgrade',
        asked ? 'fail' : 'skip',
        asked ? said : `not offered at ${opts.target.path} (${said})`,
        handshakeMs,
        {
          status: null,
          error,
          ended,
          asked,
          offered: asked ? null : false,
        },
      ),
    );
    checks.push(check('ws.accept', 'Sec-WebSocket-Accept', 'skip', 'no answer, nothing to verify', 0, {}));
    checks.push(check('ws.negotiation', 'Subprotocol / extensions', 'skip', 'no answer', 0, {}));
    return { head, error, handshakeMs, upgraded: false, session: null, upgradedAt: at, checks };
  }
  const h = head.headers;
  const upgradeHeader = (h.upgrade ?? '').toLowerCase() === 'websocket';
  const connectionHeader = headerList(h.connection, true).includes('upgrade');
  const switched = head.statusCode === 101 && upgradeHeader && connectionHeader;
  const upgradeData = {
    status: head.statusCode,
    reason: head.reason,
    httpVersion: head.httpVersion,
    headers: h,
    handshakeMs: ms(handshakeMs),
    body: head.statusCode === 101 ? null : bodySnippet(head),
  };
  const statusLine = `HTTP/${head.httpVersion} ${head.statusCode} ${head.reason}`.trim();
  if (!switched) {
    const missing =
      head.statusCode === 101
        ? ` but ${upgradeHeader ? 'Connection: Upgrade' : 'Upgrade: websocket'} is missing`
        : '';
    const said = upgradeData.body ? ` ("${upgradeData.body}")` : '';
    const line = `${statusLine}${missing}${said}${head.statusCode === 101 ? '' : ', not 101'}`;
    checks.push(
      asked
        ? check('ws.upgrade', 'WebSocket upgrade', 'fail', line, handshakeMs, { ...upgradeData, asked })
        : check(
            'ws.upgrade',
            'WebSocket upgrade',
            'skip',
            `not offered at ${opts.target.path} (${line}); use a ws:// URL or --ws PATH to require it`,
            handshakeMs,
            { ...upgradeData, asked, offered: false },
          ),
    );
    checks.push(
      check('ws.accept', 'Sec-WebSocket-Accept', 'skip', 'no 101, nothing to verify', 0, {
        expected: expectedAccept(key),
        got: h['sec-websocket-accept'] ?? null,
      }),
    );
    checks.push(
      check('ws.negotiation', 'Subprotocol / extensions', 'skip', 'no 101, nothing negotiated', 0, {}),
    );
    conn.socket.destroy();
    return { head, error: null, handshakeMs, upgraded: false, session: null, upgradedAt: at, checks };
  }
  checks.push(
    check(
      'ws.upgrade',
      'WebSocket upgrade',
      'ok',
      `${statusLine} in ${ms(handshakeMs)} ms`,
      handshakeMs,
      upgradeData,
    ),
  );

  const expected = expectedAccept(key);
  const got = h['sec-websocket-accept'] ?? null;
  const acceptOk = got === expected;
  checks.push(
    check(
      'ws.accept',
      'Sec-WebSocket-Accept',
      acceptOk ? 'ok' : 'fail',
      acceptOk
        ? `verified against the key sent (${expected})`
        : got === null
          ? 'missing from the 101'
          : `got ${got}, expected ${expected}`,
      0,
      { key, expected, got, verified: acceptOk },
    ),
  );
  checks.push(negotiation(head, opts));
  if (!acceptOk) {
    conn.socket.destroy();
    return { head, error: null, handshakeMs, upgraded: false, session: null, upgradedAt: at, checks };
  }
  const deflate = extensionNames(h['sec-websocket-extensions']).includes('permessage-deflate');
  const session = new WsSession(conn.socket, head.rest, deflate);
  return { head, error: null, handshakeMs, upgraded: true, session, upgradedAt: at, checks };
}

/** Subprotocol and extensions: what was offered, what came back, and whether that is legal. */
function negotiation(head: ResponseHead, opts: DoctorOptions): Check {
  const selected = head.headers['sec-websocket-protocol'] ?? null;
  const extOffered = extensionNames(opts.extensions);
  const extNegotiated = head.headers['sec-websocket-extensions'] ?? null;
  const extNames = extensionNames(extNegotiated ?? undefined);
  const data = {
    protocolsOffered: opts.protocols,
    protocolSelected: selected,
    extensionsOffered: opts.extensions === '' ? null : opts.extensions,
    extensionsNegotiated: extNegotiated,
  };
  const problems: string[] = [];
  const notes: string[] = [];
  let status: CheckStatus = 'ok';
  if (selected !== null && !opts.protocols.includes(selected)) {
    status = 'fail';
    problems.push(
      `server selected subprotocol "${selected}", which was not offered (browsers fail the connection)`,
    );
  } else if (opts.protocols.length > 0 && selected === null) {
    status = 'warn';
    problems.push(
      `offered ${opts.protocols.join(', ')} but the server selected none (the ws client rejects that)`,
    );
  } else {
    notes.push(selected ? `subprotocol ${selected}` : 'no subprotocol');
  }
  const unexpected = extNames.filter((e) => !extOffered.includes(e));
  if (unexpected.length > 0) {
    status = 'fail';
    problems.push(`server enabled extension(s) not offered: ${unexpected.join(', ')}`);
  } else {
    notes.push(
      extNegotiated
        ? `extensions ${extNegotiated}`
        : extOffered.length
          ? `no extension (offered ${extOffered.join(', ')})`
          : 'no extension offered',
    );
  }
  return check(
    'ws.negotiation',
    'Subprotocol / extensions',
    status,
    [...problems, ...notes].join('; '),
    0,
    data,
  );
}

/**
 * Sends a ping and a text frame at once and waits up to `timeoutMs` for the pong and for the
 * first message after the text frame. No reply to the text is not a failure: only echo-like
 * servers answer arbitrary text.
 */
export async function probeRoundTrip(session: WsSession, opts: DoctorOptions): Promise<Check> {
  const token = randomBytes(8);
  const t0 = performance.now();
  let pongMs: number | null = null;
  let reply: Message | null = null;
  const done = new Promise<void>((resolve) => {
    const settle = () => {
      if (pongMs !== null && reply !== null) resolve();
    };
    session.onPong = (payload, at) => {
      if (pongMs === null && payload.equals(token)) pongMs = at - t0;
      settle();
    };
    session.onMessage = (m) => {
      reply ??= m;
      settle();
    };
    session.ended.then(() => resolve());
    setTimeout(resolve, opts.timeoutMs).unref();
  });
  session.ping(token);
  session.sendText(opts.message);
  await done;
  session.onPong = null;
  session.onMessage = null;
  const duration = performance.now() - t0;
  const r = reply as Message | null;
  const replyMs = r ? r.at - t0 : null;
  const echoed = r?.text === opts.message;
  const data = {
    pingRttMs: pongMs === null ? null : ms(pongMs),
    replyMs: replyMs === null ? null : ms(replyMs),
    reply: r === null ? null : r.binary ? 'binary' : echoed ? 'echo' : 'other',
    replyText: r?.text?.slice(0, 200) ?? null,
    replyCompressed: r?.compressed ?? null,
    serverPings: session.serverPings,
    protocolError: session.protocolError,
    closedBy: session.isOpen ? null : await session.ended,
  };
  const parts = [
    pongMs === null ? `no pong within ${opts.timeoutMs} ms` : `ping→pong ${ms(pongMs)} ms`,
    r === null
      ? `no reply to a text frame within ${opts.timeoutMs} ms (fine unless the server echoes)`
      : `${echoed ? 'echo' : 'reply'} in ${ms(replyMs!)} ms`,
  ];
  if (!session.isOpen) {
    const end = await session.ended;
    const how =
      end.how === 'close-frame'
        ? `close frame ${end.code}${end.reason ? ` "${end.reason}"` : ''}`
        : end.how.toUpperCase();
    return check(
      'ws.roundtrip',
      'Round trip',
      'fail',
      `connection ended during the round trip (${how}); ${parts.join(', ')}`,
      duration,
      data,
    );
  }
  const status: CheckStatus = session.protocolError ? 'fail' : pongMs === null ? 'warn' : 'ok';
  if (session.protocolError) parts.push(session.protocolError);
  return check('ws.roundtrip', 'Round trip', status, parts.join(', '), duration, data);
}
