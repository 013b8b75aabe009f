/**
 * Step 6: from the checks, the transport to use (the fallback ladder: WebSocket, then SSE,
 * then long-poll) and, for each problem found, the likely fix.
 */
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

function seconds(msValue: number): string {
  return `${Math.round(msValue / 100) / 10} s`;
}

export function buildVerdict(checks: readonly Check[]): Verdict {
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
    else if (upgradeStatus !== null && upgradeStatus >= 500)
      push('ws.upgrade', {
        problem: 'upstream-error',
        advice: `A hop answered ${upgradeStatus}: it could not reach a healthy backend.`,
        lines: [],
      });
    else if (upgradeStatus === 101)
      push('ws.upgrade', {
        problem: 'upgrade-incomplete',
        advice: 'The 101 lacks Upgrade: websocket / Connection: Upgrade; browsers refuse it.',
        lines: NGINX_UPGRADE_LINES,
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
    push('ws.idle', {
      problem: 'idle-timeout',
      advice:
        `A hop cuts connections after ${seconds(idleMs)} without traffic. Raise the LB/proxy idle timeout above your heartbeat interval, ` +
        `or ping more often than every ${seconds(idleMs)}` +
        (kept && interval ? ` (pings every ${interval} ms kept a connection alive).` : '.'),
      lines: [
        '# nginx:   proxy_read_timeout 3600s; proxy_send_timeout 3600s;',
        '# HAProxy: timeout tunnel 1h',
        '# AWS ALB: idle_timeout.timeout_seconds = 3600',
      ],
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

  const name = { websocket: 'WebSocket', sse: 'SSE', 'long-poll': 'long-poll', none: 'nothing' }[transport];
  let summary: string;
  if (transport === 'none') summary = 'No real-time transport works through this path.';
  else if (healthy) summary = `Healthy: use ${name}.`;
  else if (transport === 'websocket') summary = 'Use WebSocket, and fix the problems below.';
  else
    summary = `Use ${name} for now; WebSocket does not work through this path until the problems below are fixed.`;
  return { transport, healthy, summary, fixes };
}
