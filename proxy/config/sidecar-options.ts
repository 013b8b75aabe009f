/** The options of `socketlens proxy`, and the typed configuration they resolve to. */
import { ConfigError } from '../errors.js';
import type { ParsedArgs } from './load.js';
import { resolveOptions } from './load.js';
import type { ConfigOf, OptionSpec } from './schema.js';

export const DEFAULT_REDACTED_PARAMS = [
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'api_key',
  'apikey',
  'key',
  'password',
  'secret',
  'signature',
  'sig',
  'auth',
  'jwt',
  'code',
];

const G_CORE = 'Core';
const G_ID = 'Identity and logging';
const G_TIME = 'Timeouts';
const G_HB = 'Heartbeat (opt-in)';
const G_SLOW = 'Slow consumers';
const G_CHECK = 'Checks before the 101';
const G_LIFE = 'Connection lifetime';
const G_FAULT = 'Fault injection';
const G_PROTO = 'Protocol decoding';

/** Names --protocols accepts besides auto and none. */
export const DECODABLE_PROTOCOLS = ['engineio', 'graphql-ws', 'mqtt', 'sse'] as const;
export type DecodableProtocol = (typeof DECODABLE_PROTOCOLS)[number];
const G_DRAIN = 'Drain and rebalancing';

export const SIDECAR_OPTIONS = [
  { flag: 'config', kind: 'string', group: G_CORE, help: 'Read options from a JSON or YAML file.' },
  {
    flag: 'listen',
    kind: 'address',
    group: G_CORE,
    default: '127.0.0.1:8080',
    help: 'Address clients connect to.',
  },
  {
    flag: 'target',
    kind: 'url',
    group: G_CORE,
    required: true,
    help: 'The backend to proxy to, e.g. http://127.0.0.1:3000.',
  },
  {
    flag: 'admin',
    kind: 'address',
    group: G_CORE,
    allowOff: true,
    default: '127.0.0.1:9464',
    help: 'Admin server (/metrics, /healthz, /readyz, /connections, live page); "off" disables it.',
  },
  {
    flag: 'admin-allow-hosts',
    kind: 'list',
    group: G_CORE,
    default: [],
    help: 'Host names the admin server answers besides IP addresses, localhost and its --admin host (DNS-rebinding guard), e.g. sidecar-1.',
  },
  {
    flag: 'client-id-header',
    kind: 'string',
    group: G_ID,
    default: 'x-client-id',
    help: 'Header that carries the client id; the id (given or generated) is forwarded to the backend in it.',
  },
  {
    flag: 'client-id-query',
    kind: 'string',
    group: G_ID,
    default: 'client_id',
    help: 'Query parameter that carries the client id when the header is absent.',
  },
  {
    flag: 'redact-params',
    kind: 'list',
    group: G_ID,
    default: DEFAULT_REDACTED_PARAMS,
    help: 'Query parameters whose values are replaced by [redacted] wherever a URL is logged.',
  },
  {
    flag: 'log',
    kind: 'string',
    group: G_ID,
    choices: ['json', 'off'],
    default: 'json',
    help: 'One JSON line per closed connection on stdout, or off.',
  },
  {
    flag: 'longpoll-paths',
    kind: 'list',
    group: G_ID,
    default: ['/poll'],
    help: 'Path prefixes whose requests are long-polls (counted as transport="longpoll").',
  },
  {
    flag: 'handshake-timeout',
    kind: 'duration',
    group: G_TIME,
    default: 10_000,
    min: 1,
    help: 'How long the backend may take to answer an upgrade before the client gets 504 (reason=timeout).',
  },
  {
    flag: 'request-timeout',
    kind: 'duration',
    group: G_TIME,
    default: 10_000,
    min: 1,
    help: 'How long a client may take to send its request head before it gets 408 (slowloris).',
  },
  {
    flag: 'drain-timeout',
    kind: 'duration',
    group: G_TIME,
    default: 5000,
    help: 'How long a connection the sidecar closes (drain, SIGTERM) may take to finish its close before it is cut.',
  },
  {
    flag: 'upstream-idle-sockets',
    kind: 'int',
    group: G_TIME,
    // Sized for long-poll fleets: a publish answers every waiting poll at once, and each returned
    // connection beyond this bound is closed, only for the next poll to open a new one.
    default: 256,
    min: 0,
    help: 'Idle keep-alive connections kept open to the target for plain HTTP requests; 0 opens one per request. Size it to the long-polls one publish answers at once.',
  },
  {
    flag: 'upstream-idle-timeout',
    kind: 'duration',
    group: G_TIME,
    default: 4000,
    help: "How long an idle keep-alive connection to the target is kept; keep it below the target's own keep-alive timeout.",
  },
  {
    flag: 'pong-timeout',
    kind: 'duration',
    group: G_TIME,
    default: 10_000,
    min: 1,
    help: 'A ping from either end not answered by a pong within this time counts as a heartbeat miss.',
  },
  {
    flag: 'heartbeat-interval',
    kind: 'duration',
    group: G_HB,
    default: 0,
    help: 'Ping a WebSocket client that has been quiet this long; 0 turns the heartbeat off.',
  },
  {
    flag: 'heartbeat-misses',
    kind: 'int',
    group: G_HB,
    default: 2,
    min: 1,
    help: 'Unanswered heartbeat intervals after which the silent side is terminated.',
  },
  {
    flag: 'heartbeat-upstream',
    kind: 'bool',
    group: G_HB,
    default: false,
    help: 'Also ping the backend side of each connection.',
  },
  {
    flag: 'heartbeat-close-code',
    kind: 'int',
    group: G_HB,
    default: 1001,
    min: 1000,
    max: 4999,
    help: 'Close code sent to the live side when the other side missed its heartbeats.',
  },
  {
    flag: 'slow-consumer',
    kind: 'bool',
    group: G_SLOW,
    default: false,
    help: 'Disconnect clients whose send buffer stays above --max-buffer-bytes for --slow-consumer-grace (close 1008). Off: plain TCP back-pressure.',
  },
  {
    flag: 'max-buffer-bytes',
    kind: 'bytes',
    group: G_SLOW,
    default: 1024 * 1024,
    min: 1024,
    help: 'Bytes the sidecar queues toward one client before it pauses the backend side.',
  },
  {
    flag: 'slow-consumer-grace',
    kind: 'duration',
    group: G_SLOW,
    default: 5000,
    help: 'How long a client may stay over --max-buffer-bytes, or leave its queue unread while the total is over --max-total-buffer-bytes, before it is disconnected.',
  },
  {
    flag: 'max-total-buffer-bytes',
    kind: 'bytes',
    group: G_SLOW,
    default: 256 * 1024 * 1024,
    min: 1024,
    help: 'Bound on the bytes queued toward all clients together; over it, backend sides pause, and once it has been exceeded for --slow-consumer-grace, clients that hold queued bytes and read none of them in that time are disconnected (close 1008, with or without --slow-consumer).',
  },
  {
    flag: 'allow-origin',
    kind: 'list',
    group: G_CHECK,
    help: 'Allowed Origin values (repeatable or comma-separated); any other Origin gets 403. Unset: no check.',
  },
  {
    flag: 'forward-auth-url',
    kind: 'url',
    group: G_CHECK,
    help: 'Ask this URL (with the upgrade request headers and cookies) before each upgrade; 2xx accepts, anything else gets 401.',
  },
  {
    flag: 'forward-auth-timeout',
    kind: 'duration',
    group: G_CHECK,
    default: 2000,
    min: 1,
    help: 'Timeout of a forward-auth request (a timeout rejects).',
  },
  {
    flag: 'forward-auth-cache-ttl',
    kind: 'duration',
    group: G_CHECK,
    default: 5000,
    help: 'How long a forward-auth answer is reused for the same credentials; 0 disables the cache.',
  },
  {
    flag: 'jwt-jwks-url',
    kind: 'url',
    group: G_CHECK,
    help: 'Verify a JWT on each upgrade against this JWKS URL.',
  },
  {
    flag: 'jwt-key',
    kind: 'string',
    group: G_CHECK,
    help: 'Verify a JWT with this key: a PEM public key, a path to one, or an HMAC secret.',
  },
  { flag: 'jwt-issuer', kind: 'string', group: G_CHECK, help: 'Required JWT issuer (iss).' },
  { flag: 'jwt-audience', kind: 'string', group: G_CHECK, help: 'Required JWT audience (aud).' },
  {
    flag: 'jwt-token-from',
    kind: 'list',
    group: G_CHECK,
    default: ['header:authorization', 'query:access_token', 'cookie:token'],
    help: 'Where to look for the token, in order: header:NAME, query:NAME, cookie:NAME.',
  },
  {
    flag: 'jwt-principal-claim',
    kind: 'string',
    group: G_CHECK,
    default: 'sub',
    help: 'JWT claim that becomes the client id.',
  },
  {
    flag: 'max-connections',
    kind: 'int',
    group: G_CHECK,
    default: 0,
    min: 0,
    help: 'Refuse upgrades beyond this many live WebSocket connections; 0 is unlimited.',
  },
  {
    flag: 'max-connections-per-ip',
    kind: 'int',
    group: G_CHECK,
    default: 0,
    min: 0,
    help: 'Refuse upgrades beyond this many live connections from one client IP; 0 is unlimited.',
  },
  {
    flag: 'upgrade-rate',
    kind: 'number',
    group: G_CHECK,
    default: 0,
    min: 0,
    help: 'Upgrades accepted per second (token bucket); 0 is unlimited.',
  },
  {
    flag: 'upgrade-burst',
    kind: 'int',
    group: G_CHECK,
    default: 0,
    min: 0,
    help: 'Bucket size of --upgrade-rate; 0 means the same as the rate.',
  },
  {
    flag: 'rate-limit-status',
    kind: 'int',
    group: G_CHECK,
    default: 429,
    min: 429,
    max: 503,
    help: 'Status for refused upgrades over a limit: 429 or 503.',
  },
  {
    flag: 'max-connection-age',
    kind: 'duration',
    group: G_LIFE,
    default: 0,
    help: 'Close WebSockets older than this with 1001, so rolling deploys rebalance; 0 is off.',
  },
  {
    flag: 'max-connection-age-jitter',
    kind: 'number',
    group: G_LIFE,
    default: 0.1,
    min: 0,
    max: 1,
    help: 'Spread of --max-connection-age, as a fraction: each connection gets age × (1 − rand × jitter).',
  },
  {
    flag: 'faults',
    kind: 'bool',
    group: G_FAULT,
    default: false,
    help: 'Enable the fault API (POST/GET/DELETE /faults) on the admin server, to inject frame-level faults into chosen connections. Never on the proxy port.',
  },
  {
    flag: 'protocols',
    kind: 'list',
    group: G_PROTO,
    default: ['auto'],
    help: `Decoders to run inside connections: auto (all), none, or a list of ${DECODABLE_PROTOCOLS.join(', ')}. graphql-ws covers both graphql-ws subprotocols, mqtt both mqtt and mqttv3.1.`,
  },
  {
    flag: 'engineio-path',
    kind: 'string',
    group: G_PROTO,
    default: '/socket.io/',
    help: 'Path prefix of engine.io (Socket.IO) requests; a request under it with EIO=4 in its query is decoded as engine.io.',
  },
  {
    flag: 'label-cap',
    kind: 'int',
    group: G_PROTO,
    default: 100,
    min: 1,
    max: 10000,
    help: 'Distinct values kept per label that comes from traffic (event names, namespaces); more become __other__.',
  },
  {
    flag: 'drain-window',
    kind: 'duration',
    group: G_DRAIN,
    default: 15_000,
    help: 'On SIGTERM or a drain request, close the connections spread over this window (jittered), not all at once; 0 closes them together.',
  },
  {
    flag: 'drain-delay',
    kind: 'duration',
    group: G_DRAIN,
    default: 3000,
    help: 'After a drain starts, how long /readyz answers 503 (and new connections are refused) before the first close, so load balancers route away.',
  },
  {
    flag: 'drain-close-code',
    kind: 'int',
    group: G_DRAIN,
    default: 1001,
    min: 1000,
    max: 4999,
    help: 'WebSocket close code sent by a drain or a rebalancing.',
  },
  {
    flag: 'drain-retry-after',
    kind: 'duration',
    group: G_DRAIN,
    default: 1000,
    min: 1,
    help: 'While draining: Retry-After (rounded up to seconds) of refused requests, and the retry: field that ends SSE streams.',
  },
] as const satisfies readonly OptionSpec[];

/** The sidecar's configuration, as SIDECAR_OPTIONS declares it. */
export type SidecarConfig = ConfigOf<typeof SIDECAR_OPTIONS>;

/** Resolves and cross-checks the sidecar's configuration. */
export function resolveSidecarConfig(args: ParsedArgs, env: NodeJS.ProcessEnv): SidecarConfig {
  const c: SidecarConfig = resolveOptions(SIDECAR_OPTIONS, args, env);
  if (c.rateLimitStatus !== 429 && c.rateLimitStatus !== 503)
    throw new ConfigError('--rate-limit-status', `must be 429 or 503, got ${c.rateLimitStatus}`);
  if (c.jwtJwksUrl && c.jwtKey)
    throw new ConfigError('--jwt-key', 'give either --jwt-key or --jwt-jwks-url, not both');
  for (const src of c.jwtTokenFrom) {
    if (!/^(header|query|cookie):[^:\s]+$/.test(src))
      throw new ConfigError('--jwt-token-from', `"${src}" must be header:NAME, query:NAME or cookie:NAME`);
  }
  for (const p of c.longpollPaths) {
    if (!p.startsWith('/')) throw new ConfigError('--longpoll-paths', `"${p}" must start with /`);
  }
  if (c.faults && !c.admin)
    throw new ConfigError('--faults', 'the fault API lives on the admin server; --admin must not be off');
  const protos = c.protocols;
  const single = protos.length === 1 && (protos[0] === 'auto' || protos[0] === 'none');
  if (!single) {
    for (const p of protos) {
      if (!(DECODABLE_PROTOCOLS as readonly string[]).includes(p))
        throw new ConfigError(
          '--protocols',
          `"${p}" is not auto, none or one of ${DECODABLE_PROTOCOLS.join(', ')}${p === 'auto' || p === 'none' ? ' (auto and none stand alone)' : ''}`,
        );
    }
  }
  if (!c.engineioPath.startsWith('/'))
    throw new ConfigError('--engineio-path', `"${c.engineioPath}" must start with /`);
  if (c.target.pathname !== '/' || c.target.search)
    throw new ConfigError('--target', `"${c.target.href}" must be an origin only (no path or query)`);
  return c;
}

/** Whether the decoder `name` runs under --protocols. */
export function protocolEnabled(config: Pick<SidecarConfig, 'protocols'>, name: DecodableProtocol): boolean {
  const p = config.protocols;
  if (p.length === 1 && p[0] === 'auto') return true;
  return p.includes(name);
}

/** A configuration built in code (tests, the lab): defaults, plus the given fields. */
export function sidecarConfig(
  overrides: Omit<Partial<SidecarConfig>, 'target'> & { target: URL | string },
): SidecarConfig {
  const target = typeof overrides.target === 'string' ? overrides.target : overrides.target.href;
  const base = resolveSidecarConfig(
    { flags: new Map([['target', [target]]]), positionals: [], help: false },
    {},
  );
  return { ...base, ...overrides, target: new URL(target) };
}
