/**
 * `socketlens fault`: drive a sidecar's fault API (the sidecar runs with --faults) from the shell.
 *
 *   socketlens fault --admin 127.0.0.1:9464 close --code 1012 --share 0.5
 *   socketlens fault --admin 127.0.0.1:9464 list
 *   socketlens fault --admin 127.0.0.1:9464 end f3
 *   socketlens fault --admin 127.0.0.1:9464 clear
 */
import { renderHelp } from '../../proxy/config/help.js';
import { parseArgs, resolveOptions } from '../../proxy/config/load.js';
import type { Address, OptionSpec } from '../../proxy/config/schema.js';
import { ConfigError } from '../../proxy/errors.js';
import { FAULT_ACTIONS } from '../../proxy/faults/spec.js';
import { SUMMARIES } from '../summaries.js';

export const summary = SUMMARIES.fault;

const G_API = 'Admin server';
const G_MATCH = 'Which connections';
const G_ACT = 'Action parameters';

export const FAULT_OPTIONS: readonly OptionSpec[] = [
  {
    flag: 'admin',
    kind: 'address',
    group: G_API,
    default: '127.0.0.1:9464',
    help: "The sidecar's admin address (host:port).",
  },
  { flag: 'client-id', kind: 'string', group: G_MATCH, noEnv: true, help: 'Only this client id.' },
  {
    flag: 'path-prefix',
    kind: 'string',
    group: G_MATCH,
    noEnv: true,
    help: 'Only request paths starting with this.',
  },
  {
    flag: 'share',
    kind: 'number',
    group: G_MATCH,
    noEnv: true,
    min: 0,
    max: 1,
    help: 'Fraction of the matching connections hit, picked by seeded random (default 1).',
  },
  {
    flag: 'seed',
    kind: 'int',
    group: G_MATCH,
    noEnv: true,
    min: 0,
    help: 'Seed of the share draws (default 1).',
  },
  {
    flag: 'transport',
    kind: 'string',
    group: G_MATCH,
    noEnv: true,
    choices: ['websocket', 'sse', 'longpoll'],
    help: 'Only this transport (default: every transport the action applies to).',
  },
  { flag: 'protocol', kind: 'string', group: G_MATCH, noEnv: true, help: 'Only this WebSocket subprotocol.' },
  {
    flag: 'live',
    kind: 'bool',
    group: G_MATCH,
    noEnv: true,
    default: false,
    help: 'Also hit connections already open (default: new ones only).',
  },
  {
    flag: 'direction',
    kind: 'string',
    group: G_ACT,
    noEnv: true,
    choices: ['client', 'backend', 'both'],
    help: 'Act on what travels toward the client, the backend, or both (default depends on the action).',
  },
  {
    flag: 'duration',
    kind: 'string',
    group: G_ACT,
    noEnv: true,
    help: 'How long the fault lasts (default 60s).',
  },
  { flag: 'code', kind: 'int', group: G_ACT, noEnv: true, help: 'close: the close code (default 1001).' },
  {
    flag: 'reason',
    kind: 'string',
    group: G_ACT,
    noEnv: true,
    help: "close: the close frame's reason text.",
  },
  { flag: 'delay', kind: 'string', group: G_ACT, noEnv: true, help: 'delay, slow-handshake: e.g. 200ms.' },
  { flag: 'jitter', kind: 'string', group: G_ACT, noEnv: true, help: 'delay: ± this much, e.g. 50ms.' },
  {
    flag: 'rate',
    kind: 'string',
    group: G_ACT,
    noEnv: true,
    help: 'throttle: bytes per second, e.g. 16KiB.',
  },
  {
    flag: 'status',
    kind: 'int',
    group: G_ACT,
    noEnv: true,
    help: 'reject-upgrades: the status (default 503).',
  },
  {
    flag: 'retry-after',
    kind: 'int',
    group: G_ACT,
    noEnv: true,
    min: 0,
    help: 'reject-upgrades: Retry-After in seconds.',
  },
];

export const help = () =>
  renderHelp(
    'socketlens fault [--admin host:port] <action> [options] | list | end <id> | clear',
    summary,
    FAULT_OPTIONS,
    [
      `Actions: ${FAULT_ACTIONS.join(', ')}.`,
      'list prints the active faults and the connections each hit; end <id> ends one; clear ends all.',
      'Every fault ends by itself after --duration. Exit codes: 0 done, 1 the admin server could not',
      'be reached, 2 bad input (also when the sidecar refuses the fault spec).',
    ].join('\n'),
  );

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function call(admin: Address, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const host = admin.host.includes(':') ? `[${admin.host}]` : admin.host;
  const res = await fetch(`http://${host}:${admin.port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: { code: 'SL_FAULT_API', message: text.trim() } };
  }
  return { status: res.status, body: parsed };
}

function specFrom(action: string, o: Record<string, unknown>): Record<string, unknown> {
  const match: Record<string, unknown> = {};
  const put = (to: Record<string, unknown>, key: string, v: unknown) => {
    if (v !== null && v !== undefined) to[key] = v;
  };
  put(match, 'clientId', o.clientId);
  put(match, 'pathPrefix', o.pathPrefix);
  put(match, 'share', o.share);
  put(match, 'seed', o.seed);
  put(match, 'transport', o.transport);
  put(match, 'protocol', o.protocol);
  if (o.live === true) match.live = true;
  const spec: Record<string, unknown> = { action, match };
  for (const k of ['direction', 'duration', 'code', 'reason', 'delay', 'jitter', 'rate', 'status'])
    put(spec, k, o[k]);
  put(spec, 'retryAfter', o.retryAfter);
  return spec;
}

function describeFault(f: Record<string, unknown>): string {
  const match = Object.entries((f.match as Record<string, unknown>) ?? {})
    .filter(
      ([k, v]) => !(k === 'share' && v === 1) && !(k === 'seed' && v === 1) && v !== null && v !== false,
    )
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const params = Object.entries((f.params as Record<string, unknown>) ?? {})
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    `${f.id}`,
    `${f.action}`,
    `toward ${f.direction}`,
    params,
    match ? `match ${match}` : 'match all',
    `hits ${f.hits}`,
    `${Math.ceil(Number(f.remaining_ms) / 1000)} s left`,
  ]
    .filter(Boolean)
    .join('  ');
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseArgs(argv, FAULT_OPTIONS);
  if (args.help) {
    process.stdout.write(help());
    return 0;
  }
  const o = resolveOptions(FAULT_OPTIONS, args, env);
  const admin = o.admin as Address;
  const [verb, ...rest] = args.positionals;
  if (verb === undefined)
    throw new ConfigError('action', `missing: one of ${FAULT_ACTIONS.join(', ')}, or list, end <id>, clear`);
  const expectNoMore = (n: number) => {
    if (rest.length > n) throw new ConfigError('arguments', `unexpected "${rest[n]}" (see --help)`);
  };
  let answer: ApiAnswer;
  try {
    if (verb === 'list') {
      expectNoMore(0);
      answer = await call(admin, 'GET', '/faults');
    } else if (verb === 'clear') {
      expectNoMore(0);
      answer = await call(admin, 'DELETE', '/faults');
    } else if (verb === 'end') {
      if (rest.length === 0) throw new ConfigError('end', 'needs a fault id (see `socketlens fault list`)');
      expectNoMore(1);
      answer = await call(admin, 'DELETE', `/faults/${encodeURIComponent(rest[0]!)}`);
    } else if ((FAULT_ACTIONS as readonly string[]).includes(verb)) {
      expectNoMore(0);
      answer = await call(admin, 'POST', '/faults', specFrom(verb, o));
    } else {
      throw new ConfigError(
        'action',
        `unknown "${verb}" (actions: ${FAULT_ACTIONS.join(', ')}; or list, end, clear)`,
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    process.stderr.write(
      `socketlens fault: cannot reach the admin server at ${admin.host}:${admin.port} (${(err as Error).cause ?? (err as Error).message})\n`,
    );
    return 1;
  }
  if (answer.status >= 400) {
    const e = answer.body.error as { code?: string; message?: string } | undefined;
    process.stderr.write(`socketlens fault: ${e?.message ?? `HTTP ${answer.status}`}\n`);
    return 2;
  }
  if (verb === 'list') {
    const faults = answer.body.faults as Array<Record<string, unknown>>;
    if (faults.length === 0) process.stdout.write('no active faults\n');
    for (const f of faults) {
      process.stdout.write(`${describeFault(f)}\n`);
      for (const c of (f.connections as Array<Record<string, unknown>>) ?? [])
        process.stdout.write(`    hit ${c.id || '(upgrade)'} client ${c.client_id} at ${c.at}\n`);
    }
  } else if (verb === 'clear' || verb === 'end') {
    process.stdout.write(`ended ${answer.body.ended} fault(s)\n`);
  } else {
    process.stdout.write(`started ${describeFault(answer.body)}\n`);
  }
  return 0;
}
