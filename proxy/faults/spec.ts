/**
 * What a fault is: the JSON that `POST /faults` takes, validated into a FaultSpec. Each field
 * error is one coded error (SL_FAULT_SPEC) that names the field, answered as 400.
 */
import { parseBytes, parseDuration } from '../config/units.js';
import { SocketlensError } from '../errors.js';

export const FAULT_ACTIONS = [
  'close',
  'drop-pongs',
  'withhold-close',
  'stall',
  'delay',
  'throttle',
  'cut',
  'truncate',
  'reject-upgrades',
  'slow-handshake',
] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/** Actions that act on an upgrade request before the backend sees it. */
export const UPGRADE_ACTIONS: ReadonlySet<FaultAction> = new Set(['reject-upgrades', 'slow-handshake']);

/** Which way a fault acts: on what travels toward the client, toward the backend, or both. */
export type FaultSide = 'client' | 'backend' | 'both';

export const FAULT_TRANSPORTS = ['websocket', 'sse', 'longpoll'] as const;
export type FaultTransport = (typeof FAULT_TRANSPORTS)[number];

/**
 * The transports each action acts on. On an SSE stream or a long-poll the sidecar relays the
 * backend's response toward the client: it can end it (close), reset it (cut), hold it (stall),
 * delay it (per SSE event, per poll answer), throttle it, cut it mid-event (truncate), refuse a
 * new stream or poll with a status (reject-upgrades), or hold its response headers
 * (slow-handshake). Pongs and close frames exist on WebSockets only.
 */
export const ACTION_TRANSPORTS: Record<FaultAction, readonly FaultTransport[]> = {
  close: FAULT_TRANSPORTS,
  'drop-pongs': ['websocket'],
  'withhold-close': ['websocket'],
  stall: FAULT_TRANSPORTS,
  delay: FAULT_TRANSPORTS,
  throttle: FAULT_TRANSPORTS,
  cut: FAULT_TRANSPORTS,
  truncate: FAULT_TRANSPORTS,
  'reject-upgrades': FAULT_TRANSPORTS,
  'slow-handshake': FAULT_TRANSPORTS,
};

/** True when `spec` acts on connections of `transport` (its match and its direction allowing). */
export function actsOn(spec: FaultSpec, transport: FaultTransport): boolean {
  if (spec.match.transport !== null && spec.match.transport !== transport) return false;
  if (!ACTION_TRANSPORTS[spec.action].includes(transport)) return false;
  // An SSE stream or a poll carries the backend's bytes toward the client only.
  return transport === 'websocket' || UPGRADE_ACTIONS.has(spec.action) || spec.direction !== 'backend';
}

export interface FaultMatch {
  /** Exact client id (as resolved from the header, the query or a JWT/forward-auth principal). */
  clientId: string | null;
  /** The request path (query included) starts with this. */
  pathPrefix: string | null;
  /** Fraction of the otherwise matching connections hit, drawn from a random stream seeded by `seed`. */
  share: number;
  seed: number;
  /** One transport; null: every transport the action applies to (ACTION_TRANSPORTS). */
  transport: FaultTransport | null;
  /**
   * The protocol: the WebSocket subprotocol the backend chose, or the one a protocol decoder
   * recognised (e.g. `engineio`); for upgrade actions, a subprotocol the client offered.
   */
  protocol: string | null;
  /** Also hit connections that were already open when the fault started (default: new ones only). */
  live: boolean;
}

export interface FaultSpec {
  action: FaultAction;
  match: FaultMatch;
  direction: FaultSide;
  durationMs: number;
  /** close: the close code and its reason text. */
  code: number;
  reason: string;
  /** delay and slow-handshake: milliseconds; jitter: ± milliseconds around the delay. */
  delayMs: number;
  jitterMs: number;
  /** throttle: bytes per second. */
  rate: number;
  /** reject-upgrades: the status, and Retry-After in seconds (null: no header). */
  status: number;
  retryAfter: number | null;
}

export class FaultSpecError extends SocketlensError {
  constructor(field: string, problem: string) {
    super('SL_FAULT_SPEC', `${field}: ${problem}`);
    this.name = 'FaultSpecError';
  }
}

const DEFAULT_DIRECTION: Record<FaultAction, FaultSide> = {
  close: 'both',
  'drop-pongs': 'both',
  'withhold-close': 'both',
  stall: 'both',
  delay: 'both',
  throttle: 'client',
  cut: 'both',
  truncate: 'client',
  'reject-upgrades': 'both',
  'slow-handshake': 'both',
};

const MAX_DURATION_MS = 24 * 3_600_000;

/** Close codes an endpoint may send (RFC 6455 7.4): not 1004-1006 nor 1015, nothing under 1000. */
export function sendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function duration(o: Json, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : null;
  if (ms === null)
    throw new FaultSpecError(key, `expected a duration like "500ms" or "2s", got ${JSON.stringify(v)}`);
  return ms;
}

function int(o: Json, key: string, fallback: number, min: number, max: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new FaultSpecError(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function str(o: Json, key: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > 512)
    throw new FaultSpecError(key, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

const KNOWN_KEYS = new Set([
  'action',
  'match',
  'direction',
  'duration',
  'code',
  'reason',
  'delay',
  'jitter',
  'rate',
  'status',
  'retryAfter',
]);
const MATCH_KEYS = new Set(['clientId', 'pathPrefix', 'share', 'seed', 'transport', 'protocol', 'live']);

function parseMatch(raw: unknown): FaultMatch {
  if (raw === undefined) raw = {};
  if (!isObject(raw)) throw new FaultSpecError('match', 'expected an object');
  for (const k of Object.keys(raw))
    if (!MATCH_KEYS.has(k)) throw new FaultSpecError(`match.${k}`, 'unknown field');
  const share = raw.share ?? 1;
  if (typeof share !== 'number' || !(share > 0 && share <= 1))
    throw new FaultSpecError('match.share', `expected a fraction in (0, 1], got ${JSON.stringify(share)}`);
  const seed = int(raw, 'seed', 1, 0, 2 ** 32 - 1);
  const transport = (raw.transport ?? null) as FaultTransport | null;
  if (transport !== null && !FAULT_TRANSPORTS.includes(transport))
    throw new FaultSpecError(
      'match.transport',
      `expected one of ${FAULT_TRANSPORTS.join(', ')}, got ${JSON.stringify(transport)}`,
    );
  const live = raw.live ?? false;
  if (typeof live !== 'boolean') throw new FaultSpecError('match.live', 'expected true or false');
  const pathPrefix = str(raw, 'pathPrefix');
  if (pathPrefix !== null && !pathPrefix.startsWith('/'))
    throw new FaultSpecError('match.pathPrefix', `must start with /, got "${pathPrefix}"`);
  return {
    clientId: str(raw, 'clientId'),
    pathPrefix,
    share,
    seed,
    transport,
    protocol: str(raw, 'protocol'),
    live,
  };
}

/** Validates the body of `POST /faults`. */
export function parseFaultSpec(body: unknown): FaultSpec {
  if (!isObject(body)) throw new FaultSpecError('body', 'expected a JSON object');
  for (const k of Object.keys(body)) if (!KNOWN_KEYS.has(k)) throw new FaultSpecError(k, 'unknown field');
  const action = body.action;
  if (typeof action !== 'string' || !(FAULT_ACTIONS as readonly string[]).includes(action))
    throw new FaultSpecError(
      'action',
      `expected one of ${FAULT_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`,
    );
  const a = action as FaultAction;
  const direction = body.direction ?? DEFAULT_DIRECTION[a];
  if (direction !== 'client' && direction !== 'backend' && direction !== 'both')
    throw new FaultSpecError(
      'direction',
      `expected client, backend or both, got ${JSON.stringify(direction)}`,
    );
  const match = parseMatch(body.match);
  const t = match.transport;
  if (t !== null && !ACTION_TRANSPORTS[a].includes(t))
    throw new FaultSpecError(
      'match.transport',
      `${a} does not apply to ${t}: ${a === 'drop-pongs' ? 'pongs' : 'close frames'} exist on WebSocket connections only; use "transport": "websocket"`,
    );
  if (t !== null && t !== 'websocket' && !UPGRADE_ACTIONS.has(a) && direction === 'backend')
    throw new FaultSpecError(
      'direction',
      `${a} toward the backend does not apply to ${t}: after its request, ${t === 'sse' ? 'an SSE stream' : 'a long-poll'} carries bytes toward the client only; use "direction": "client"`,
    );
  if (UPGRADE_ACTIONS.has(a) && match.live)
    throw new FaultSpecError('match.live', `${a} acts on new upgrades only`);
  const durationMs = duration(body, 'duration', 60_000);
  if (durationMs < 1 || durationMs > MAX_DURATION_MS)
    throw new FaultSpecError('duration', `must be from 1ms to 24h, got ${durationMs} ms`);

  const code = int(body, 'code', 1001, 1000, 4999);
  if (!sendableCloseCode(code)) throw new FaultSpecError('code', `${code} may not be sent in a close frame`);
  const reason = body.reason ?? '';
  if (typeof reason !== 'string' || Buffer.byteLength(reason) > 123)
    throw new FaultSpecError('reason', 'expected a string of at most 123 bytes');

  const delayMs = duration(body, 'delay', a === 'delay' || a === 'slow-handshake' ? -1 : 0);
  if (delayMs < 0) throw new FaultSpecError('delay', `${a} needs a delay, e.g. "delay": "200ms"`);
  const jitterMs = duration(body, 'jitter', 0);
  if (jitterMs > delayMs) throw new FaultSpecError('jitter', `must not exceed the delay (${delayMs} ms)`);

  let rate = 0;
  if (a === 'throttle') {
    const r = body.rate;
    const n = typeof r === 'string' || typeof r === 'number' ? parseBytes(r) : null;
    if (n === null || n < 1)
      throw new FaultSpecError(
        'rate',
        `throttle needs a rate in bytes per second, e.g. "16KiB", got ${JSON.stringify(r)}`,
      );
    rate = n;
  }
  const status = int(body, 'status', 503, 400, 599);
  const retryAfter = body.retryAfter === undefined ? null : int(body, 'retryAfter', 0, 0, 86_400);
  return {
    action: a,
    match,
    direction,
    durationMs,
    code,
    reason,
    delayMs,
    jitterMs,
    rate,
    status,
    retryAfter,
  };
}
