/** Request headers added on the way to the backend: X-Forwarded-*, the client id, trace context. */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

function append(existing: string | string[] | undefined, value: string): string {
  const prev = Array.isArray(existing) ? existing.join(', ') : existing;
  return prev ? `${prev}, ${value}` : value;
}

/**
 * The headers of an upgrade request as forwarded: the client's raw headers in their order and
 * case, with X-Forwarded-For/-Proto/-Host appended and the given headers set (replacing any the
 * client sent under the same name).
 */
export function forwardedRawHeaders(req: IncomingMessage, set: Record<string, string>): string[] {
  const encrypted = (req.socket as TLSSocket).encrypted === true;
  const replace: Record<string, string> = {
    'x-forwarded-for': append(req.headers['x-forwarded-for'], req.socket.remoteAddress ?? ''),
    'x-forwarded-proto': append(req.headers['x-forwarded-proto'], encrypted ? 'https' : 'http'),
    'x-forwarded-host': append(req.headers['x-forwarded-host'], req.headers.host ?? ''),
  };
  for (const [k, v] of Object.entries(set)) replace[k.toLowerCase()] = v;
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() in replace) continue;
    out.push(raw[i], raw[i + 1]);
  }
  for (const [k, v] of Object.entries(replace)) out.push(k, v);
  return out;
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket';
}
