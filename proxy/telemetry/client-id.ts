/** The client id that joins the sidecar's records with the backend's logs. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * The id the client sent (configured header, else query parameter), or a generated one.
 * Ids that are too long or carry unusual characters are replaced, so they can't smuggle
 * anything into headers or logs.
 */
export function resolveClientId(req: IncomingMessage, header: string, queryParam: string): string {
  const fromHeader = req.headers[header.toLowerCase()];
  const h = Array.isArray(fromHeader) ? fromHeader[0] : fromHeader;
  if (h && SAFE_ID.test(h)) return h;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q !== -1 && queryParam) {
    const v = new URLSearchParams(url.slice(q + 1)).get(queryParam);
    if (v && SAFE_ID.test(v)) return v;
  }
  return randomUUID();
}
