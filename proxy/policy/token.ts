/** Finds a bearer token in an upgrade request: header:NAME, query:NAME or cookie:NAME, in order. */
import type { IncomingMessage } from 'node:http';

export function findToken(req: IncomingMessage, sources: readonly string[]): string | null {
  for (const src of sources) {
    const [kind, name] = src.split(':', 2);
    if (kind === 'header') {
      const v = req.headers[name.toLowerCase()];
      const s = Array.isArray(v) ? v[0] : v;
      if (s) return s.replace(/^Bearer\s+/i, '').trim() || null;
    } else if (kind === 'query') {
      const q = (req.url ?? '').indexOf('?');
      if (q !== -1) {
        const v = new URLSearchParams((req.url ?? '').slice(q + 1)).get(name);
        if (v) return v;
      }
    } else if (kind === 'cookie') {
      const cookie = req.headers.cookie;
      if (cookie) {
        for (const part of cookie.split(';')) {
          const eq = part.indexOf('=');
          if (eq !== -1 && part.slice(0, eq).trim() === name)
            return decodeURIComponent(part.slice(eq + 1).trim());
        }
      }
    }
  }
  return null;
}
