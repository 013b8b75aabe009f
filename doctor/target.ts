/**
 * The endpoint doctor probes, from the one positional argument. ws:// and http:// mean plain TCP,
 * wss:// and https:// mean TLS; either way the same origin also serves the SSE and long-poll paths.
 */
import { ConfigError } from '../proxy/errors.js';

export interface Target {
  /** The URL as given, normalised (e.g. wss://host/ws/). */
  readonly url: URL;
  readonly secure: boolean;
  /** Host name or IP literal without brackets, for DNS, SNI and the certificate check. */
  readonly hostname: string;
  readonly port: number;
  /** Value of the Host header: host, plus the port when it is not the scheme's default. */
  readonly hostHeader: string;
  /** Path plus query of the WebSocket endpoint. */
  readonly path: string;
  /** The http(s) origin a browser page on the same site would send. */
  readonly origin: string;
}

const SCHEMES: Record<string, { secure: boolean; port: number; http: string }> = {
  'ws:': { secure: false, port: 80, http: 'http:' },
  'http:': { secure: false, port: 80, http: 'http:' },
  'wss:': { secure: true, port: 443, http: 'https:' },
  'https:': { secure: true, port: 443, http: 'https:' },
};

export function parseTarget(text: string): Target {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('URL', `"${text}" is not a URL (expected e.g. wss://example.com/ws)`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme)
    throw new ConfigError(
      'URL',
      `"${text}" must start with ws://, wss://, http:// or https://, not ${url.protocol}`,
    );
  if (url.hostname === '') throw new ConfigError('URL', `"${text}" has no host`);
  if (url.username || url.password) throw new ConfigError('URL', 'credentials in the URL are not supported');
  const port = url.port === '' ? scheme.port : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    url,
    secure: scheme.secure,
    hostname,
    port,
    hostHeader: url.host,
    path: `${url.pathname}${url.search}`,
    origin: `${scheme.http}//${url.host}`,
  };
}

/**
 * Resolves an SSE or long-poll path against the target: an absolute path stays on the same
 * origin, "none" skips the probe, and a full URL must share the origin (doctor measures one
 * path through one chain of hops).
 */
export function resolveSidePath(target: Target, flag: string, value: string): string | null {
  if (value === 'none' || value === '') return null;
  if (value.startsWith('/')) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`--${flag}`, `"${value}" is not a path (e.g. /sse) or a URL, or "none"`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme || `${scheme.http}//${url.host}` !== target.origin)
    throw new ConfigError(`--${flag}`, `"${value}" must be on the same origin as the URL (${target.origin})`);
  return `${url.pathname}${url.search}`;
}
