/**
 * Step 1 as checks: DNS, TCP connect and TLS from one real connection, which the WebSocket
 * step then reuses (a browser also upgrades on the connection it just opened).
 */
import { type Connection, openConnection } from './connect.js';
import { DoctorError, describeError } from './errors.js';
import type { DoctorOptions } from './options.js';
import { type Check, type CheckStatus, ms } from './report.js';

/** Warn when a certificate has fewer days left than this (ACME clients renew at 30). */
export const EXPIRY_WARN_DAYS = 14;

export interface ConnectResult {
  readonly checks: readonly Check[];
  /** Null when the connection failed, or TLS is untrusted without --insecure. */
  readonly conn: Connection | null;
}

function skip(id: Check['id'], title: string, why: string): Check {
  return { id, title, status: 'skip', summary: why, durationMs: 0, data: {} };
}

export async function probeConnect(opts: DoctorOptions): Promise<ConnectResult> {
  const { target } = opts;
  const hostPort = `${target.hostname}:${target.port}`;
  let conn: Connection;
  try {
    conn = await openConnection(target, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    const code = err instanceof DoctorError ? err.code : '';
    const reason = describeError(err);
    const fail = (id: Check['id'], title: string): Check => ({
      id,
      title,
      status: 'fail',
      summary: reason,
      durationMs: 0,
      data: { error: reason },
    });
    if (code === 'SL_DOCTOR_DNS')
      return {
        conn: null,
        checks: [
          fail('dns', 'DNS'),
          skip('tcp', 'TCP connect', 'no address'),
          skip('tls', 'TLS', 'no connection'),
        ],
      };
    if (code === 'SL_DOCTOR_TLS')
      return {
        conn: null,
        checks: [
          { id: 'dns', title: 'DNS', status: 'ok', summary: 'resolved', durationMs: 0, data: {} },
          {
            id: 'tcp',
            title: 'TCP connect',
            status: 'ok',
            summary: `connected to ${hostPort}`,
            durationMs: 0,
            data: {},
          },
          fail('tls', 'TLS'),
        ],
      };
    return {
      conn: null,
      checks: [
        { id: 'dns', title: 'DNS', status: 'ok', summary: 'resolved', durationMs: 0, data: {} },
        fail('tcp', 'TCP connect'),
        skip('tls', 'TLS', 'no connection'),
      ],
    };
  }

  const checks: Check[] = [
    {
      id: 'dns',
      title: 'DNS',
      status: 'ok',
      summary: `${target.hostname} → ${conn.addresses.join(', ')} (${ms(conn.dnsMs)} ms)`,
      durationMs: ms(conn.dnsMs),
      data: { host: target.hostname, addresses: conn.addresses, lookupMs: ms(conn.dnsMs) },
    },
    {
      id: 'tcp',
      title: 'TCP connect',
      status: 'ok',
      summary: `${conn.address}:${target.port} in ${ms(conn.connectMs)} ms`,
      durationMs: ms(conn.connectMs),
      data: { address: conn.address, port: target.port, connectMs: ms(conn.connectMs) },
    },
  ];
  const info = conn.tls;
  if (!info) {
    checks.push(
      skip(
        'tls',
        'TLS',
        'plain ws:// / http:// (use wss:// in production: intercepting proxies mangle plaintext upgrades)',
      ),
    );
    return { conn, checks };
  }
  const notes: string[] = [];
  let status: CheckStatus = 'ok';
  const worst = (s: CheckStatus) => {
    if (s === 'fail' || (s === 'warn' && status === 'ok')) status = s;
  };
  notes.push(`${info.protocol} ${info.cipher}`);
  notes.push(
    `subject ${info.subject ?? '(none)'}${info.altNames.length ? ` [${info.altNames.join(', ')}]` : ''}`,
  );
  if (!info.hostMatch) {
    notes.push(`does not name ${target.hostname}`);
    worst(opts.insecure ? 'warn' : 'fail');
  }
  if (!info.chainTrusted) {
    notes.push(`untrusted (${info.selfSigned ? 'self-signed' : (info.chainError ?? 'unverified chain')})`);
    worst(opts.insecure ? 'warn' : 'fail');
  }
  if (!info.trusted)
    notes.push(
      opts.insecure ? 'accepted because of --insecure' : 'stopping here (use --insecure to probe anyway)',
    );
  if (info.daysLeft !== null) {
    notes.push(info.daysLeft < 0 ? `expired ${-info.daysLeft} days ago` : `expires in ${info.daysLeft} days`);
    if (info.daysLeft < 0) worst('fail');
    else if (info.daysLeft < EXPIRY_WARN_DAYS) worst('warn');
  }
  checks.push({
    id: 'tls',
    title: 'TLS',
    status,
    summary: `${notes.join('; ')} (${ms(conn.tlsMs)} ms)`,
    durationMs: ms(conn.tlsMs),
    data: { ...info, handshakeMs: ms(conn.tlsMs), insecure: opts.insecure },
  });
  if (!info.trusted && !opts.insecure) {
    conn.socket.destroy();
    return { conn: null, checks };
  }
  return { conn, checks };
}
