/**
 * Origin allowlist: the defence against cross-site WebSocket hijacking. Browsers always send
 * Origin on a WebSocket upgrade, so a request whose Origin is missing or not listed is refused
 * with 403. The entry "*" allows any Origin, including none.
 */
import type { IncomingMessage } from 'node:http';
import type { CheckVerdict } from './types.js';

export function originCheck(allowed: readonly string[]): (req: IncomingMessage) => CheckVerdict | null {
  const any = allowed.includes('*');
  const set = new Set(allowed.map((o) => o.toLowerCase().replace(/\/$/, '')));
  return (req) => {
    if (any) return null;
    const origin = req.headers.origin;
    if (typeof origin === 'string' && set.has(origin.toLowerCase())) return null;
    return {
      ok: false,
      status: 403,
      reason: 'origin',
      message: `socketlens: origin ${origin ? JSON.stringify(origin) : '(none)'} is not allowed`,
    };
  };
}
