/** Removes secrets from request targets before they are logged, traced or shown. */

export const REDACTED = '[redacted]';

/**
 * Returns `target` (a request path with an optional query) with the values of the named query
 * parameters replaced. Names match case-insensitively. A target without a query is returned as is.
 */
export function redactTarget(target: string, params: ReadonlySet<string>): string {
  const q = target.indexOf('?');
  if (q === -1 || params.size === 0) return target;
  const parts = target.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    const rawName = eq === -1 ? parts[i] : parts[i].slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    if (eq !== -1 && params.has(name)) {
      parts[i] = `${rawName}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? `${target.slice(0, q)}?${parts.join('&')}` : target;
}

export function redactionSet(params: readonly string[]): ReadonlySet<string> {
  return new Set(params.map((p) => p.toLowerCase()));
}
