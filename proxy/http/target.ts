/**
 * The request target, normalised once for both the HTTP path and the upgrade path: origin-form
 * (`/path?query`) is kept; absolute-form (`http://host/path?query`, what a client talking to a
 * forward proxy sends) becomes its origin-form; `*` is kept for OPTIONS. Anything else is not a
 * target we forward. The Host header is left as the client sent it: the sidecar proxies to one
 * fixed backend, so the authority inside an absolute target selects nothing.
 */
export function normaliseTarget(raw: string | undefined): string | null {
  const url = raw ?? '';
  if (url.startsWith('/')) return url;
  if (url === '*') return url;
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      return `${u.pathname || '/'}${u.search}`;
    } catch {
      return null;
    }
  }
  return null;
}

/** The path part of a normalised target, without its query. */
export function targetPath(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}
