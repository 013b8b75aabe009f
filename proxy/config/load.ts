/**
 * Resolves a command's options from, in rising precedence: defaults, a config file (JSON or
 * YAML, given by --config or SOCKETLENS_CONFIG), environment variables, and flags.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import {
  type ConfigOf,
  camel,
  coerce,
  envName,
  type OptionSpec,
  type OptionValue,
  sourceName,
} from './schema.js';
import { didYouMean } from './suggest.js';

export const ENV_PREFIX = 'SOCKETLENS';

export interface ParsedArgs {
  /** Raw flag values by flag name; repeated flags keep every value. */
  readonly flags: Map<string, string[]>;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Splits argv into flags and positionals; knows which flags are booleans (take no value). */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw new ConfigError(arg, 'unknown option (see --help)');
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = byFlag.get(name);
    if (
      !spec &&
      name.startsWith('no-') &&
      byFlag.get(name.slice(3))?.kind === 'bool' &&
      value === undefined
    ) {
      name = name.slice(3);
      spec = byFlag.get(name);
      value = 'false';
    }
    if (!spec)
      throw new ConfigError(
        `--${name}`,
        `unknown option${didYouMean(name, byFlag.keys(), (k) => `--${k}`)} (see --help)`,
      );
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2))
          throw new ConfigError(`--${name}`, 'needs a value');
        value = next;
        i++;
      }
    }
    const list = flags.get(name) ?? [];
    list.push(value);
    flags.set(name, list);
  }
  return { flags, positionals, help };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let data: unknown;
  const json = /\.json$/i.test(path);
  try {
    data = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('--config', syntaxProblem(path, text, err, json));
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError('--config', `${path} must hold an object of options`);
  return data as Record<string, unknown>;
}

/**
 * Where a config file stops parsing, as one line a person can act on: file, line and column,
 * the parser's complaint, and the offending line itself.
 */
function syntaxProblem(path: string, text: string, err: unknown, json: boolean): string {
  let message = String((err as Error).message).split('\n')[0];
  let line: number | null = null;
  let col: number | null = null;
  const yamlPos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
  if (yamlPos) {
    line = yamlPos.line;
    col = yamlPos.col;
    message = message.replace(/ at line \d+, column \d+:?$/, '');
  } else {
    const at = /at position (\d+)/.exec(message);
    if (at) {
      const before = text.slice(0, Number(at[1]));
      line = before.split('\n').length;
      col = Number(at[1]) - before.lastIndexOf('\n');
      message = message.replace(/ in JSON at position \d+.*$/, '');
    }
  }
  const kind = json ? 'JSON' : 'YAML';
  if (line === null) return `${path} is not valid ${kind}: ${message}`;
  const source = (text.split(/\r?\n/)[line - 1] ?? '').trim();
  return `${path} line ${line}, column ${col}: not valid ${kind}: ${message}: "${source.slice(0, 80)}"`;
}

/**
 * SOCKETLENS_* variables in `env` that no option reads, each as one line naming the nearest
 * known variable. A mistyped variable would otherwise be silently ignored. `alsoRead` names the
 * variables (without the prefix) that other parts of the program read, which are not mistakes.
 */
export function unknownEnvVariables(
  specs: readonly OptionSpec[],
  env: NodeJS.ProcessEnv,
  alsoRead: readonly string[] = [],
  envPrefix = ENV_PREFIX,
): string[] {
  const known = [
    ...specs.filter((s) => !s.noEnv).map((s) => envName(envPrefix, s.flag)),
    `${envPrefix}_CONFIG`,
  ];
  const knownSet = new Set([...known, ...alsoRead.map((v) => `${envPrefix}_${v}`)]);
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(`${envPrefix}_`) || knownSet.has(name)) continue;
    out.push(`${name} is not a setting and is ignored${didYouMean(name, known)}`);
  }
  return out;
}

/**
 * Resolves every option to a typed value keyed by its camelCase name.
 * Throws ConfigError (one field, one problem) on any bad input.
 */
export function resolveOptions<const L extends readonly OptionSpec[]>(
  specs: L,
  args: ParsedArgs,
  env: NodeJS.ProcessEnv,
  envPrefix = ENV_PREFIX,
): ConfigOf<L> {
  const configPath = args.flags.get('config')?.at(-1) ?? env[`${envPrefix}_CONFIG`];
  const file = configPath ? readConfigFile(configPath) : {};
  const byKey = new Map<string, OptionSpec>();
  for (const s of specs) {
    byKey.set(camel(s.flag), s);
    byKey.set(s.flag, s);
  }
  const fileValues = new Map<OptionSpec, unknown>();
  for (const [key, value] of Object.entries(file)) {
    const spec = byKey.get(key);
    if (!spec || spec.flag === 'config')
      throw new ConfigError(
        `config key "${key}"`,
        `unknown option${didYouMean(
          key,
          specs.filter((s) => s.flag !== 'config').map((s) => (key.includes('-') ? s.flag : camel(s.flag))),
          (k) => `"${k}"`,
        )}`,
      );
    fileValues.set(spec, value);
  }

  const out: Record<string, OptionValue> = {};
  for (const spec of specs) {
    if (spec.flag === 'config') {
      out.config = configPath ?? null;
      continue;
    }
    const flagValues = args.flags.get(spec.flag);
    const envValue = spec.noEnv ? undefined : env[envName(envPrefix, spec.flag)];
    let value: OptionValue | undefined;
    if (flagValues !== undefined) {
      const field = sourceName(spec, 'flag', envPrefix);
      value =
        spec.kind === 'list'
          ? flagValues.flatMap((v) => coerce(spec, v, field) as string[])
          : coerce(spec, flagValues.at(-1), field);
    } else if (envValue !== undefined && envValue !== '') {
      value = coerce(spec, envValue, sourceName(spec, 'env', envPrefix));
    } else if (fileValues.has(spec)) {
      value = coerce(spec, fileValues.get(spec), sourceName(spec, 'file', envPrefix));
    } else if (spec.default !== undefined) {
      value = coerce(spec, spec.default, sourceName(spec, 'default', envPrefix));
    } else if (spec.required) {
      throw new ConfigError(
        `--${spec.flag}`,
        `is required (or set ${envName(envPrefix, spec.flag)}, or "${camel(spec.flag)}" in --config)`,
      );
    } else {
      value = null;
    }
    out[camel(spec.flag)] = value;
  }
  // The loop above gives each spec the value its kind, default and choices describe: that is
  // ConfigOf<L> by construction, which the compiler cannot follow through a loop.
  return out as ConfigOf<L>;
}
