/**
 * Forward authentication, as nginx's auth_request does it: the upgrade request's credentials
 * (Authorization, Cookie and the original URI) are sent to a URL; a 2xx answer accepts the
 * upgrade, anything else — or a timeout — refuses it with 401. Answers are cached briefly per
 * set of credentials. The principal comes from the answer's X-Auth-Principal, X-User or
 * X-User-Id header.
 */
import type { IncomingMessage } from 'node:http';
import type { SidecarConfig } from '../config/sidecar-options.js';
import type { CheckVerdict } from './types.js';

const PRINCIPAL_HEADERS = ['x-auth-principal', 'x-user', 'x-user-id'];
const PASSED_HEADERS = [
  'authorization',
  'cookie',
  'origin',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-proto',
];
const CACHE_MAX = 1000;

export function forwardAuthCheck(config: SidecarConfig): (req: IncomingMessage) => Promise<CheckVerdict> {
  const url = config.forwardAuthUrl!;
  const ttl = config.forwardAuthCacheTtl;
  const cache = new Map<string, { at: number; verdict: CheckVerdict }>();
  return async (req) => {
    const headers: Record<string, string> = {
      'x-original-uri': req.url ?? '/',
      'x-original-method': req.method ?? 'GET',
      'x-forwarded-for': req.socket.remoteAddress ?? '',
    };
    for (const h of PASSED_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const key = `${headers.authorization ?? ''}\n${headers.cookie ?? ''}\n${req.url ?? ''}`;
    const now = performance.now();
    if (ttl > 0) {
      const hit = cache.get(key);
      if (hit && now - hit.at < ttl) return hit.verdict;
    }
    let verdict: CheckVerdict;
    try {
      const res = await fetch(url, {
        headers,
        signal: AbortSignal.timeout(config.forwardAuthTimeout),
        redirect: 'manual',
      });
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 300) {
        const principal = PRINCIPAL_HEADERS.map((h) => res.headers.get(h)).find((v) => v);
        verdict = { ok: true, principal: principal ?? undefined };
      } else {
        verdict = {
          ok: false,
          status: 401,
          reason: 'auth',
          message: `socketlens: not authorized (auth service answered ${res.status})`,
        };
      }
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
      // Not cached: a failing auth service should be asked again next time.
      return {
        ok: false,
        status: 401,
        reason: 'auth',
        message: `socketlens: not authorized (auth service ${why})`,
      };
    }
    if (ttl > 0) {
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
      cache.set(key, { at: now, verdict });
    }
    return verdict;
  };
}
