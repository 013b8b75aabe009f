/** Removes secrets from request targets before they are logged, traced or shown. */

export const REDACTED = '[redacted]';

/**
 * The name a query parameter is matched by: percent-decoded, lower-cased, without the leading
 * `?`s, spaces and control characters and the trailing `[]` / `[key]` that some parsers accept.
 * So `??token`, `%20token`, `token%00` and `token[]` all match `token`. Null when the name cannot
 * be decoded.
 */
function matchName(raw: string): string | null {
  let name: string;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return null;
  }
  name = name.replace(/[\u0000-\u0020\u007f]+/g, '').replace(/^\?+/, '');
  name = name.replace(/(\[[^\]]*\])+$/, '');
  return name.toLowerCase();
}

/**
 * Returns `target` (a request path with an optional query) with the values of the named query
 * parameters replaced. Parameters are separated by `&` or `;`. When a parameter name cannot be
 * decoded, the whole query is redacted: what it hides cannot be told.
 */
export function redactTarget(target: string, params: ReadonlySet<string>): string {
  const q = target.indexOf('?');
  if (q === -1 || params.size === 0) return target;
  const query = target.slice(q + 1);
  const parts = query.split(/([&;])/);
  let changed = false;
  for (let i = 0; i < parts.length; i += 2) {
    const eq = parts[i].indexOf('=');
    if (eq === -1) continue;
    const name = matchName(parts[i].slice(0, eq));
    if (name === null) return `${target.slice(0, q)}?${REDACTED}`;
    if (params.has(name)) {
      parts[i] = `${parts[i].slice(0, eq)}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? `${target.slice(0, q)}?${parts.join('')}` : target;
}

/**
 * The parameter names to redact: the configured ones, plus every query parameter a token is read
 * from (`--jwt-token-from query:NAME`), so a token source is never logged by accident.
 */
export function redactionSet(
  params: readonly string[],
  tokenSources: readonly string[] = [],
): ReadonlySet<string> {
  const names = params.map((p) => p.toLowerCase());
  for (const src of tokenSources) {
    if (src.startsWith('query:')) names.push(src.slice('query:'.length).toLowerCase());
  }
  return new Set(names);
}
