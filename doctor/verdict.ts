/**
 * Step 6: from the checks, the transport to use (the fallback ladder: WebSocket, then SSE,
 * then long-poll) and, for each problem found, the likely fix.
 */
import { humanDuration } from '../proxy/config/units.js';
import type { Check, CheckId, Fix, Transport, Verdict } from './report.js';

export const NGINX_UPGRADE_LINES = [
  '# http {} level:',
  'map $http_upgrade $connection_upgrade {',
  '    default upgrade;',
  "    ''      close;",
  '}',
  '# in the location that proxies the WebSocket:',
  'proxy_http_version 1.1;',
  'proxy_set_header Upgrade $http_upgrade;',
  'proxy_set_header Connection $connection_upgrade;',
];

export const NGINX_STREAM_LINES = [
  '# in the location that proxies the stream:',
  'proxy_http_version 1.1;',
  'proxy_buffering off;',
  '# or, from the backend, per response (unless the hop ignores it):',
  'X-Accel-Buffering: no',
];

/** Statuses that mean a hop dropped the Upgrade header pair and the backend saw a plain GET. */
const STRIPPED_STATUSES = new Set([200, 400, 426]);

/** A duration for people ("850 ms", "2.9 s", "75 s"); exact figures stay in --json. */
export const seconds = humanDuration;

/** What the verdict needs to know beyond the checks: where the probes went. */
export interface VerdictContext {
  /** host:port the doctor connected to (the first hop). */
  readonly hostPort: string;
}

/** The sidecar's own 502 bodies (proxy/ws/upgrade.ts), told apart by their wording. */
const SIDECAR_CLOSED = /socketlens: the backend (closed|reset) the connection without answering/;

/** Configuration lines that raise the idle timeout of each common hop above `keepMs`. */
export function idleTimeoutLines(keepMs: number): string[] {
  const s = Math.max(3600, Math.ceil(keepMs / 1000));
  return [
    `# nginx (proxy_read_timeout, default 60s), in the WebSocket location:`,
    `proxy_read_timeout ${s}s;`,
    `proxy_send_timeout ${s}s;`,
    `# HAProxy (timeout tunnel governs upgraded connections), in the backend or defaults:`,
    `timeout tunnel ${s}s`,
    'timeout client-fin 30s',
    `# AWS ALB (idle timeout, default 60 s, at most 4000 s):`,
    `aws elbv2 modify-load-balancer-attributes --load-balancer-arn <arn> --attributes Key=idle_timeout.timeout_seconds,Value=${Math.min(4000, s)}`,
  ];
}

/** Which hop cut a quiet connection, judged by the bytes that ended it. */
export function whoCut(end: { how: string; code: number | null } | null, idleMs: number): string {
  const near60 = Math.abs(idleMs - 60_000) <= 2_000;
  switch (end?.how) {
    case 'close-frame':
      return `a WebSocket-aware party sent close code ${end.code}: the server itself (or a proxy that speaks WebSocket, such as a socketlens sidecar with --max-connection-age) closed it, so look for an idle or session timeout in the server's settings`;
    case 'fin':
      return `a proxy or load balancer closed TCP without a close frame (clients see 1006): nginx proxy_read_timeout, HAProxy timeout tunnel or an ALB/ELB idle timeout${near60 ? '; 60 s is the default of nginx and of the ALB' : ''}`;
    case 'rst':
      return 'a TCP reset: a network load balancer (NLB), NAT gateway or firewall dropped the idle flow';
    default:
      return 'the connection ended without a recognisable closing sequence';
  }
}

const HOP_ADVICE: Partial<Record<CheckId, string>> = {
  dns: 'check the host name and the resolver',
  tcp: 'check that the load balancer or service listens on that port and that no firewall drops it',
  tls: 'check the certificate and the TLS settings of the first hop',
};

export function buildVerdict(checks: readonly Check[], ctx?: VerdictContext): Verdict {
  const by = new Map<CheckId, Check>(checks.map((c) => [c.id, c]));
  const status = (id: CheckId) => by.get(id)?.status ?? 'skip';
  const fixes: Fix[] = [];
  // A fix is as severe as the check that calls for it.
  const push = (from: CheckId, fix: Omit<Fix, 'severity'>) =>
    fixes.push({ ...fix, severity: status(from) === 'fail' ? 'fail' : 'warn' });

  const tls = by.get('tls');
  if (tls && (tls.status === 'fail' || tls.status === 'warn')) {
    const d = tls.data as {
      trusted?: boolean;
      hostMatch?: boolean;
      daysLeft?: number | null;
      selfSigned?: boolean;
    };
    if (d.hostMatch === false)
      push('tls', {
        problem: 'tls-host-mismatch',
        advice: 'Serve a certificate whose SAN names this host.',
        lines: [],
      });
    if (d.trusted === false && d.hostMatch !== false)
      push('tls', {
        problem: 'tls-untrusted',
        advice: `Serve a certificate from a public CA (${d.selfSigned ? 'this one is self-signed' : 'the chain does not verify'}); browsers refuse wss:// to it.`,
        lines: [],
      });
    if (typeof d.daysLeft === 'number' && d.daysLeft < 14)
      push('tls', {
        problem: 'tls-expiring',
        advice:
          d.daysLeft < 0
            ? 'The certificate has expired: renew it.'
            : `Renew the certificate: it expires in ${d.daysLeft} days.`,
        lines: [],
      });
  }

  const upgrade = by.get('ws.upgrade');
  const upgradeStatus = (upgrade?.data.status as number | null | undefined) ?? null;
  if (upgrade?.status === 'fail') {
    if (upgradeStatus !== null && STRIPPED_STATUSES.has(upgradeStatus))
      push('ws.upgrade', {
        problem: 'upgrade-stripped',
        advice: `The answer was ${upgradeStatus}, not 101: a hop is not forwarding the Upgrade/Connection headers (the backend saw a plain request). In nginx, for that location:`,
        lines: NGINX_UPGRADE_LINES,
      });
    else if (upgradeStatus === 401 || upgradeStatus === 403)
      push('ws.upgrade', {
        problem: 'upgrade-rejected',
        advice: `The handshake was refused (${upgradeStatus}): an auth or Origin check. Check the allowed origins, or pass --origin.`,
        lines: [],
      });
    else if (upgradeStatus === 404)
      push('ws.upgrade', {
        problem: 'upgrade-not-found',
        advice: 'Nothing serves WebSocket at this path (404): check the URL and the proxy routes.',
        lines: [],
      });
    else if (upgradeStatus === 502 && SIDECAR_CLOSED.test(String(upgrade.data.body ?? '')))
      push('ws.upgrade', {
        problem: 'upstream-closed',
        advice:
          "The backend is up but ended the upgrade without answering (the socketlens sidecar saw it close or reset the connection): it does not serve WebSocket at this path (Socket.IO, for one, drops upgrades outside /socket.io/). Check the path and the backend's routes.",
        lines: [],
      });
    else if (upgradeStatus !== null && upgradeStatus >= 500)
      push('ws.upgrade', {
        problem: 'upstream-error',
        advice: `A hop answered ${upgradeStatus}: its backend is down, or closed the upgrade without answering. The hop's error log says which (nginx: "connect() failed" vs "upstream prematurely closed connection").`,
        lines: [],
      });
    else if (upgradeStatus === 101)
      push('ws.upgrade', {
        problem: 'upgrade-incomplete',
        advice: 'The 101 lacks Upgrade: websocket / Connection: Upgrade; browsers refuse it.',
        lines: NGINX_UPGRADE_LINES,
      });
    else if (upgradeStatus === null && (upgrade.data.ended === 'fin' || upgrade.data.ended === 'rst'))
      push('ws.upgrade', {
        problem: 'upgrade-closed',
        advice: `The server at ${ctx?.hostPort ?? 'the URL'} ${upgrade.data.ended === 'fin' ? 'closed' : 'reset'} the connection without answering the upgrade: it is up, but nothing there accepts WebSocket at this path (Socket.IO, for one, drops upgrades outside /socket.io/). Check the path.`,
        lines: [],
      });
    else push('ws.upgrade', { problem: 'upgrade-failed', advice: `No 101 (${upgrade.summary}).`, lines: [] });
  }
  if (status('ws.accept') === 'fail')
    push('ws.accept', {
      problem: 'accept-mismatch',
      advice:
        'Sec-WebSocket-Accept is not the hash of the key sent: a hop rewrote the handshake or the server computes it wrongly; browsers refuse the connection.',
      lines: [],
    });

  const idle = by.get('ws.idle');
  const idleMs = (idle?.data.idleTimeoutMs as number | null | undefined) ?? null;
  if (idle && idleMs !== null && (idle.status === 'fail' || idle.status === 'warn')) {
    const keep = by.get('ws.keepalive');
    const kept = keep?.status === 'ok';
    const interval = keep?.data.pingIntervalMs as number | undefined;
    const end = idle.data.end as { how: string; code: number | null } | null;
    // Half the cut leaves room for one lost ping; never above the interval that was proven.
    const heartbeat = kept && interval ? interval : Math.max(1000, Math.floor(idleMs / 2 / 1000) * 1000);
    push('ws.idle', {
      problem: 'idle-timeout',
      advice:
        `Quiet connections are cut after ${seconds(idleMs)}; who: ${whoCut(end, idleMs)}. ` +
        `Keep them alive with a heartbeat every ${seconds(heartbeat)} or less` +
        (kept && interval ? ` (pings every ${seconds(interval)} kept one open through the cut)` : '') +
        ', or raise the idle timeout of that hop above your heartbeat:',
      lines: end?.how === 'close-frame' ? [] : idleTimeoutLines(idleMs),
    });
  }
  if (status('ws.keepalive') === 'fail')
    push('ws.keepalive', {
      problem: 'keepalive-failed',
      advice:
        'Pings did not keep the connection alive: a hop caps connection lifetime or does not count WebSocket frames as traffic.',
      lines: [],
    });

  const sse = by.get('sse');
  if (sse?.data.buffered === true || (sse?.data.events === 0 && sse.data.ended !== true))
    push('sse', {
      problem: 'sse-buffered',
      advice:
        sse.data.buffered === true
          ? 'A hop buffers the event stream: events arrive in bursts, not as sent. Turn buffering off for it:'
          : 'No event arrived: if the stream should have sent some, a hop is probably buffering it. Turn buffering off for it:',
      lines: NGINX_STREAM_LINES,
    });
  else if (sse?.status === 'fail' && typeof sse.data.contentType !== 'undefined' && sse.data.status === 200)
    push('sse', {
      problem: 'sse-content-type',
      advice: 'Answer the SSE path with Content-Type: text/event-stream.',
      lines: [],
    });

  const eioOpen = by.get('eio.open');
  const eioUpgrade = by.get('eio.upgrade');
  if (eioOpen?.status === 'fail') {
    const d = eioOpen.data as { engineio?: boolean | null; errorCode?: number; errorMessage?: string };
    if (d.engineio === true)
      push('eio.open', {
        problem: 'engineio-refused',
        advice: `The engine.io server refused the handshake: ${d.errorMessage} (code ${d.errorCode}). Code 4 (Forbidden) comes from its allowRequest or CORS check; code 5 means another engine.io version (an EIO=3 server, or allowEIO3 off for EIO=3 clients).`,
        lines: [],
      });
    else if (d.engineio === false)
      push('eio.open', {
        problem: 'engineio-not-found',
        advice: `No engine.io server answers at ${String(eioOpen.data.path ?? '').split('?')[0]} (${eioOpen.summary.replace(/^no engine\.io server at \S+: /, '')}): check the Socket.IO server's path option (and --engineio PATH here), and the routes of every hop to it.`,
        lines: [],
      });
  }
  if (eioUpgrade?.status === 'fail' && eioUpgrade.data.stripped === true)
    push('eio.upgrade', {
      problem: 'engineio-upgrade-stripped',
      advice: `Polling works, the WebSocket upgrade is stripped, so clients fall back to polling: the upgrade got HTTP ${eioUpgrade.data.status}, not 101, because a hop does not forward the Upgrade/Connection headers (the server saw a plain GET). In nginx, for the Socket.IO location:`,
      lines: NGINX_UPGRADE_LINES,
    });
  else if (eioUpgrade?.status === 'fail')
    push('eio.upgrade', {
      problem: 'engineio-upgrade-failed',
      advice: `Polling works, but the WebSocket upgrade failed (${eioUpgrade.summary}), so clients stay on polling.`,
      lines: [],
    });
  else if (eioUpgrade?.status === 'warn' && eioUpgrade.data.offered === false)
    push('eio.upgrade', {
      problem: 'engineio-no-upgrade',
      advice:
        "The server offers no WebSocket upgrade (its transports option lists polling only): every client stays on polling. Add 'websocket' to the server's transports if that is not on purpose.",
      lines: [],
    });

  // Every failed check gets a fix, so "fix the problems below" never lists nothing.
  const covered = new Set(fixes.map((f) => f.problem));
  const FIX_OF: Partial<Record<CheckId, string[]>> = {
    tls: ['tls-host-mismatch', 'tls-untrusted', 'tls-expiring'],
    'ws.upgrade': [
      'upgrade-stripped',
      'upgrade-rejected',
      'upgrade-not-found',
      'upstream-closed',
      'upstream-error',
      'upgrade-incomplete',
      'upgrade-closed',
      'upgrade-failed',
    ],
    'ws.accept': ['accept-mismatch'],
    'ws.idle': ['idle-timeout'],
    'ws.keepalive': ['keepalive-failed'],
    sse: ['sse-buffered', 'sse-content-type'],
    'eio.open': ['engineio-refused', 'engineio-not-found'],
    'eio.upgrade': ['engineio-upgrade-stripped', 'engineio-upgrade-failed'],
  };
  for (const c of checks) {
    if (c.status !== 'fail' || (FIX_OF[c.id] ?? []).some((p) => covered.has(p))) continue;
    fixes.push({ severity: 'fail', ...genericFix(c, ctx) });
  }

  const wsUsable =
    status('ws.upgrade') === 'ok' &&
    status('ws.accept') === 'ok' &&
    status('ws.negotiation') !== 'fail' &&
    status('ws.roundtrip') !== 'fail' &&
    status('ws.keepalive') !== 'fail';
  const sseUsable = sse?.status === 'ok';
  const pollUsable = status('poll') === 'ok' || status('poll') === 'warn';
  const transport: Transport = wsUsable ? 'websocket' : sseUsable ? 'sse' : pollUsable ? 'long-poll' : 'none';
  const healthy = !checks.some((c) => c.status === 'fail');

  // A Socket.IO endpoint: its own ladder, WebSocket after polling.
  if (eioOpen && eioOpen.status !== 'skip') {
    const healthy = !checks.some((c) => c.status === 'fail');
    if (eioOpen.status === 'fail') {
      return {
        transport: 'none',
        healthy: false,
        summary: `Socket.IO cannot connect through this path. First failure: ${hopPhrase(checks.find((c) => c.status === 'fail')!, ctx)}.`,
        fixes,
      };
    }
    if (eioUpgrade?.status === 'ok')
      return {
        transport: 'websocket',
        healthy,
        summary: healthy
          ? 'Healthy: Socket.IO connects over polling and upgrades to WebSocket.'
          : 'Socket.IO upgrades to WebSocket; fix the problems below.',
        fixes,
      };
    return {
      transport: 'long-poll',
      healthy,
      summary:
        eioUpgrade?.data.stripped === true
          ? 'Socket.IO: polling works, the WebSocket upgrade is stripped, so clients fall back to polling.'
          : eioUpgrade?.status === 'fail'
            ? 'Socket.IO: polling works, the WebSocket upgrade fails, so clients stay on polling.'
            : 'Socket.IO works over polling only.',
      fixes,
    };
  }

  const name = { websocket: 'WebSocket', sse: 'SSE', 'long-poll': 'long-poll', none: 'nothing' }[transport];
  const offered = (['ws.upgrade', 'sse', 'poll'] as const).filter(
    (id) => by.get(id)?.data.offered !== false && status(id) !== 'skip',
  );
  let summary: string;
  let ok = healthy;
  if (transport === 'none') {
    ok = false;
    const first = checks.find((c) => c.status === 'fail');
    if (first) summary = `Nothing works through this path. First failure: ${hopPhrase(first, ctx)}.`;
    else if (offered.length === 0) {
      summary = 'No real-time transport is offered here: point the URL, --sse and --poll at the right paths.';
      fixes.push({
        problem: 'nothing-offered',
        severity: 'fail',
        advice: `Nothing answered as a WebSocket, SSE or long-poll endpoint (${notOffered(checks)}).`,
        lines: [],
      });
    } else summary = 'No real-time transport works through this path.';
  } else if (healthy) summary = `Healthy: use ${name}.`;
  else if (transport === 'websocket') summary = 'Use WebSocket, and fix the problems below.';
  else
    summary = `Use ${name} for now; ${status('ws.upgrade') === 'fail' ? 'WebSocket does not work through this path' : 'some checks failed'} until the problems below are fixed.`;
  return { transport, healthy: ok, summary, fixes };
}

/** "WebSocket at /x (HTTP 404), SSE at /sse (HTTP 426)": what was looked for and not found. */
function notOffered(checks: readonly Check[]): string {
  const label: Partial<Record<CheckId, string>> = {
    'ws.upgrade': 'WebSocket',
    sse: 'SSE',
    poll: 'long-poll',
  };
  return checks
    .filter((c) => c.data.offered === false)
    .map((c) => `${label[c.id]}: ${c.summary.replace(/; (pass|use) .*$/, '')}`)
    .join('; ');
}

/** The first failing hop, named for a person at 2 a.m.: where, what was seen, what to check. */
function hopPhrase(c: Check, ctx?: VerdictContext): string {
  const at = ctx?.hostPort ?? 'the first hop';
  if (c.id === 'dns') return `DNS (${c.summary}); ${HOP_ADVICE.dns}`;
  if (c.id === 'tcp') return `TCP to ${at} (${c.summary}); ${HOP_ADVICE.tcp}`;
  if (c.id === 'tls') return `TLS at ${at} (${c.summary}); ${HOP_ADVICE.tls}`;
  if (c.id === 'ws.upgrade') {
    const st = c.data.status as number | null;
    if (st !== null && st >= 500)
      return `the hop at ${at} is up but its backend is not usable (${c.summary})`;
    return `the server at ${at} (${c.summary})`;
  }
  return `${c.title} at ${at} (${c.summary})`;
}

/** A fix for a failed check that no specific rule explains: what failed, and where to look. */
function genericFix(c: Check, ctx?: VerdictContext): Omit<Fix, 'severity'> {
  const path = (c.data.path as string | undefined) ?? '';
  if ((c.id === 'sse' || c.id === 'poll') && c.data.offered === false)
    return {
      problem: `${c.id}-not-offered`,
      advice: `${c.id === 'sse' ? 'SSE' : 'Long-poll'} was asked for at ${path}, but ${c.summary.replace(`${path}: `, '')} there: check the path (--${c.id}) and the routes of every hop.`,
      lines: [],
    };
  const where =
    c.id === 'dns' || c.id === 'tcp' || c.id === 'tls' ? `${hopPhrase(c, ctx)}` : `${c.title}: ${c.summary}`;
  return { problem: `${c.id}-failed`, advice: `${where}.`, lines: [] };
}
