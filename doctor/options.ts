/** The options of `socketlens doctor`, declared once for flags, validation and --help. */
import { type ParsedArgs, resolveOptions } from '../proxy/config/load.js';
import type { OptionSpec } from '../proxy/config/schema.js';
import { ConfigError } from '../proxy/errors.js';
import { parseTarget, resolveSidePath, type Target } from './target.js';

const G_OUT = 'Output';
const G_CONN = 'Connection';
const G_WS = 'WebSocket';
const G_IDLE = 'Idle timeout';
const G_HTTP = 'SSE and long-poll';
const G_EIO = 'Socket.IO (engine.io)';

/**
 * Every option is flag-only (noEnv): doctor is a one-shot probe, and the proxy's SOCKETLENS_*
 * variables, SOCKETLENS_CONFIG included, describe a different command and must not leak in.
 */
export const DOCTOR_OPTIONS = [
  {
    flag: 'json',
    kind: 'bool',
    group: G_OUT,
    noEnv: true,
    default: false,
    help: 'Print one JSON document (checks and verdict) instead of the human report.',
  },
  {
    flag: 'timeout',
    kind: 'duration',
    group: G_CONN,
    noEnv: true,
    default: 5000,
    min: 1,
    help: 'Limit for each step (DNS, connect, TLS, handshake, each answer).',
  },
  {
    flag: 'insecure',
    kind: 'bool',
    group: G_CONN,
    noEnv: true,
    default: false,
    help: 'Go on when the certificate is not trusted (self-signed, wrong host); it is still reported.',
  },
  {
    flag: 'origin',
    kind: 'string',
    group: G_CONN,
    noEnv: true,
    help: "Origin header to send (default: the URL's own http(s) origin, as a same-site page would).",
  },
  {
    flag: 'protocol',
    kind: 'list',
    group: G_WS,
    noEnv: true,
    default: [],
    help: 'Subprotocol to offer in Sec-WebSocket-Protocol; repeat or comma-separate for several.',
  },
  {
    flag: 'extensions',
    kind: 'string',
    group: G_WS,
    noEnv: true,
    default: 'permessage-deflate; client_max_window_bits',
    help: 'Sec-WebSocket-Extensions to offer ("" offers none; the default is what browsers send).',
  },
  {
    flag: 'message',
    kind: 'string',
    group: G_WS,
    noEnv: true,
    default: 'socketlens doctor',
    help: 'Text frame sent for the round trip (an echo server answers it; others may not).',
  },
  {
    flag: 'idle-probe',
    kind: 'duration',
    group: G_IDLE,
    noEnv: true,
    default: 0,
    help: 'Hold a quiet WebSocket up to this long to find an idle cut, e.g. 75s (0 skips the probe).',
  },
  {
    flag: 'ping-interval',
    kind: 'duration',
    group: G_IDLE,
    noEnv: true,
    default: 0,
    help: 'Ping interval of the keep-alive connection tried after an idle cut (0: a third of the measured cut).',
  },
  {
    flag: 'heartbeat',
    kind: 'duration',
    group: G_IDLE,
    noEnv: true,
    default: 0,
    help: "Your app's heartbeat interval: an idle cut at or below it is a failure, above it only a note (0: assume 30s, common library defaults).",
  },
  {
    flag: 'ws',
    kind: 'string',
    group: G_WS,
    noEnv: true,
    help: 'WebSocket path on the same origin, or "none" to skip WebSocket (default: the URL\'s path, asked for with ws:// or wss://, only looked for with http:// or https://).',
  },
  {
    flag: 'sse',
    kind: 'string',
    group: G_HTTP,
    noEnv: true,
    default: '/sse',
    help: 'Server-Sent Events path on the same origin, or "none" to skip SSE. Given, SSE is asked for and must work; by default it is only looked for.',
  },
  {
    flag: 'sse-window',
    kind: 'duration',
    group: G_HTTP,
    noEnv: true,
    default: 3000,
    min: 100,
    help: 'How long to watch the SSE stream for events.',
  },
  {
    flag: 'poll',
    kind: 'string',
    group: G_HTTP,
    noEnv: true,
    default: '/poll',
    help: 'Long-poll path on the same origin, or "none" to skip long-poll. Given, long-poll is asked for and must work; by default it is only looked for.',
  },
  {
    flag: 'engineio',
    kind: 'string',
    group: G_EIO,
    noEnv: true,
    default: 'auto',
    help: 'Probe Socket.IO: the engine.io handshake over polling, then its WebSocket upgrade. "auto": when the URL\'s path is /socket.io/ (or under it); a path (e.g. /realtime/): always, at that path on the same origin; "none": never.',
  },
] as const satisfies readonly OptionSpec[];

export interface DoctorOptions {
  readonly target: Target;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly insecure: boolean;
  readonly origin: string;
  readonly protocols: readonly string[];
  readonly extensions: string;
  readonly message: string;
  readonly idleProbeMs: number;
  /** 0: derive from the measured idle cut. */
  readonly pingIntervalMs: number;
  /** 0: unknown. */
  readonly heartbeatMs: number;
  /** Each transport to probe (null: skipped with "none"). */
  readonly ws: TransportPlan | null;
  readonly sse: TransportPlan | null;
  readonly sseWindowMs: number;
  readonly poll: TransportPlan | null;
  /** Where to probe engine.io (Socket.IO), ending with "/"; null: not a Socket.IO endpoint. */
  readonly engineio: string | null;
}

/**
 * Where a transport is probed, and whether it was asked for. An asked-for transport that does not
 * work fails the run; one that is only looked for fails it only once it was found to exist (an
 * answer such as 404, 405 or 426 means "not offered here" and is no failure).
 */
export interface TransportPlan {
  readonly path: string;
  readonly asked: boolean;
}

/** RFC 6455 subprotocols are HTTP tokens. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function resolveDoctorOptions(args: ParsedArgs): DoctorOptions {
  if (args.positionals.length === 0) throw new ConfigError('URL', 'missing (usage: socketlens doctor <url>)');
  if (args.positionals.length > 1)
    throw new ConfigError('URL', `expected one URL, got also "${args.positionals[1]}"`);
  const given = parseTarget(args.positionals[0]);
  // No env: see DOCTOR_OPTIONS. Also keeps SOCKETLENS_CONFIG from being read.
  const o = resolveOptions(DOCTOR_OPTIONS, args, {});
  const protocols = o.protocol;
  for (const p of protocols) {
    if (!TOKEN.test(p)) throw new ConfigError('--protocol', `"${p}" is not a valid subprotocol token`);
  }
  const extensions = o.extensions;
  if (/[\r\n]/.test(extensions)) throw new ConfigError('--extensions', 'must be one header line');
  const origin = o.origin ?? given.origin;
  if (/[\r\n]/.test(origin)) throw new ConfigError('--origin', 'must be one header line');
  const engineio = engineioPath(given, o.engineio);
  const wsPath = o.ws === undefined || o.ws === null ? given.path : resolveSidePath(given, 'ws', o.ws);
  // At a Socket.IO endpoint a bare upgrade means nothing (engine.io wants its query): the
  // engine.io probe replaces it, unless --ws asks for one.
  const ws: TransportPlan | null =
    wsPath === null || (engineio !== null && !args.flags.has('ws'))
      ? null
      : { path: wsPath, asked: args.flags.has('ws') || /^wss?:$/.test(given.url.protocol) };
  // The WebSocket probes upgrade at the target's path.
  const target: Target = ws ? { ...given, path: ws.path } : given;
  const side = (flag: 'sse' | 'poll', value: string): TransportPlan | null => {
    // A Socket.IO endpoint has its own fallback (polling): SSE and long-poll only when asked for.
    if (engineio !== null && !args.flags.has(flag)) return null;
    const path = resolveSidePath(given, flag, value);
    return path === null ? null : { path, asked: args.flags.has(flag) };
  };
  return {
    target,
    json: o.json,
    timeoutMs: o.timeout,
    insecure: o.insecure,
    origin,
    protocols,
    extensions,
    message: o.message,
    idleProbeMs: o.idleProbe,
    pingIntervalMs: o.pingInterval,
    heartbeatMs: o.heartbeat,
    ws,
    sse: side('sse', o.sse),
    sseWindowMs: o.sseWindow,
    poll: side('poll', o.poll),
    engineio,
  };
}

/** The default engine.io path of Socket.IO servers and clients. */
export const ENGINEIO_DEFAULT_PATH = '/socket.io/';

/**
 * Where --engineio points: "auto" takes the URL's own path when it is /socket.io/ or under it
 * (the engine.io path is then everything up to and including "/socket.io/"), a path or same-origin
 * URL is used as given (with a trailing "/"), "none" turns the probe off.
 */
function engineioPath(target: Target, value: string): string | null {
  if (value === 'none' || value === '') return null;
  if (value === 'auto') {
    const path = target.url.pathname;
    const at = path.indexOf(ENGINEIO_DEFAULT_PATH);
    if (at >= 0) return path.slice(0, at + ENGINEIO_DEFAULT_PATH.length);
    return path === ENGINEIO_DEFAULT_PATH.slice(0, -1) ? ENGINEIO_DEFAULT_PATH : null;
  }
  const path = resolveSidePath(target, 'engineio', value);
  if (path === null) return null;
  if (path.includes('?')) throw new ConfigError('--engineio', `"${value}" must be a path without a query`);
  return path.endsWith('/') ? path : `${path}/`;
}
