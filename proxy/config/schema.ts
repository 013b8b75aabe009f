/**
 * A small declarative option schema shared by every socketlens command.
 *
 * Each option is declared once with its kind, default and help; the same declaration drives the
 * command-line flag (`--heartbeat-interval`), the environment variable
 * (`SOCKETLENS_HEARTBEAT_INTERVAL`), the config-file key (`heartbeatInterval` or
 * `heartbeat-interval`), validation, and the `--help` text.
 */
import { ConfigError } from '../errors.js';
import { formatBytes, formatDuration, parseBytes, parseDuration } from './units.js';

export type OptionKind =
  | 'string'
  | 'url'
  | 'address'
  | 'duration'
  | 'bytes'
  | 'int'
  | 'number'
  | 'bool'
  | 'list';

export interface OptionSpec {
  /** Flag name without dashes, kebab-case. */
  readonly flag: string;
  readonly kind: OptionKind;
  readonly help: string;
  readonly group?: string;
  readonly default?: string | number | boolean | readonly string[];
  readonly required?: boolean;
  /** Allowed values (for string options). */
  readonly choices?: readonly string[];
  /** For address options: also accept the word "off". */
  readonly allowOff?: boolean;
  /** Inclusive bounds for numeric kinds. */
  readonly min?: number;
  readonly max?: number;
  /** Hide the environment variable (e.g. for --config itself). */
  readonly noEnv?: boolean;
}

export interface Address {
  host: string;
  port: number;
}

export type OptionValue = string | number | boolean | string[] | URL | Address | null;

/** `heartbeat-interval` -> `heartbeatInterval`, at the type level (mirrors camel()). */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/** The value type of one kind, before nullability. */
interface KindValue {
  string: string;
  url: URL;
  address: Address;
  duration: number;
  bytes: number;
  int: number;
  number: number;
  bool: boolean;
  list: string[];
}

/** A string option with choices resolves to the union of those choices. */
type ValueOf<S extends OptionSpec> = S extends { kind: 'string'; choices: readonly (infer C)[] }
  ? C
  : KindValue[S['kind']];

/** null when the option may be absent (no default, not required) or may be "off". */
type Nullable<S extends OptionSpec> = S extends { required: true }
  ? never
  : S extends { allowOff: true }
    ? null
    : S extends { default: unknown }
      ? never
      : null;

/**
 * The typed configuration that resolveOptions() returns for a list of specs, derived from the
 * list itself. Declare the list `as const satisfies readonly OptionSpec[]` so that each flag,
 * kind, default and choice is known to the compiler; then no command writes its config type by
 * hand, and adding an option is one declaration.
 */
export type ConfigOf<L extends readonly OptionSpec[]> = {
  -readonly [S in L[number] as Camel<S['flag']>]: ValueOf<S> | Nullable<S>;
};

export function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function envName(prefix: string, flag: string): string {
  return `${prefix}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Where a raw value came from, for error messages that name the field as the user wrote it. */
export interface Source {
  readonly kind: 'flag' | 'env' | 'file' | 'default';
  readonly name: string;
}

export function sourceName(spec: OptionSpec, kind: Source['kind'], envPrefix: string): string {
  if (kind === 'flag') return `--${spec.flag}`;
  if (kind === 'env') return envName(envPrefix, spec.flag);
  if (kind === 'file') return `config key "${camel(spec.flag)}"`;
  return `default of --${spec.flag}`;
}

/** Turns one raw value into a typed one, or throws a ConfigError naming the field. */
export function coerce(spec: OptionSpec, raw: unknown, field: string): OptionValue {
  const fail = (problem: string): never => {
    throw new ConfigError(field, problem);
  };
  const text = (): string => {
    if (typeof raw === 'string') return raw;
    if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
    return fail(`expected a string, got ${JSON.stringify(raw)}`);
  };
  const bounded = (n: number, what: string): number => {
    if (spec.min !== undefined && n < spec.min) fail(`${what} must be at least ${spec.min}, got ${n}`);
    if (spec.max !== undefined && n > spec.max) fail(`${what} must be at most ${spec.max}, got ${n}`);
    return n;
  };
  switch (spec.kind) {
    case 'string': {
      const s = text();
      if (spec.choices && !spec.choices.includes(s)) fail(`"${s}" is not one of ${spec.choices.join(', ')}`);
      return s;
    }
    case 'url': {
      const s = text();
      let u: URL;
      // "localhost:3102" parses as a URL with scheme "localhost:": catch it before.
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
        const bare = /^[\w.-]+:\d+(\/.*)?$|^\[[0-9a-fA-F:.]+\]:\d+(\/.*)?$|^[\w.-]+(\/.*)?$/.test(s);
        return fail(
          bare
            ? `"${s}" has no scheme: did you mean http://${s}?`
            : `"${s}" is not a URL (expected e.g. http://127.0.0.1:3000)`,
        );
      }
      try {
        u = new URL(s);
      } catch {
        return fail(`"${s}" is not a URL (expected e.g. http://127.0.0.1:3000)`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        fail(`"${s}" must be an http:// or https:// URL, not ${u.protocol}`);
      return u;
    }
    case 'address': {
      const s = text();
      if (spec.allowOff && s === 'off') return null;
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
      if (!m) return fail(`"${s}" is not host:port (e.g. 127.0.0.1:8080${spec.allowOff ? ', or off' : ''})`);
      const port = Number(m[3]);
      if (port > 65535) fail(`port ${port} is out of range 0-65535`);
      return { host: m[1] || m[2] || '127.0.0.1', port };
    }
    case 'duration': {
      const ms = parseDuration(typeof raw === 'number' ? raw : text());
      if (ms === null)
        return fail(`"${String(raw)}" is not a duration (use e.g. 500ms, 2s, 1m, or milliseconds)`);
      return bounded(ms, 'duration (ms)');
    }
    case 'bytes': {
      const n = parseBytes(typeof raw === 'number' ? raw : text());
      if (n === null) return fail(`"${String(raw)}" is not a size (use e.g. 65536, 64KiB, 1MiB)`);
      return bounded(n, 'size');
    }
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(text().trim());
      if (!Number.isFinite(n) || text().trim() === '') return fail(`"${String(raw)}" is not a number`);
      if (spec.kind === 'int' && !Number.isInteger(n)) fail(`"${String(raw)}" is not a whole number`);
      return bounded(n, 'value');
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = text().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      return fail(`"${s}" is not a boolean (true/false)`);
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : text().split(',');
      return items.map((s) => s.trim()).filter((s) => s.length > 0);
    }
  }
}

export function formatDefault(spec: OptionSpec): string {
  const d = spec.default;
  if (d === undefined) return '';
  if (spec.kind === 'duration' && typeof d === 'number') return formatDuration(d);
  if (spec.kind === 'bytes' && typeof d === 'number') return formatBytes(d);
  if (Array.isArray(d)) return d.join(',');
  return String(d);
}
