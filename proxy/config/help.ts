/** Renders `--help` text from an option schema, grouped, with defaults and environment variables. */
import { ENV_PREFIX } from './load.js';
import { envName, formatDefault, type OptionSpec } from './schema.js';

const VALUE_HINT: Record<string, string> = {
  string: '<text>',
  url: '<url>',
  address: '<host:port>',
  duration: '<duration>',
  bytes: '<size>',
  int: '<n>',
  number: '<n>',
  bool: '',
  list: '<a,b,...>',
};

export function renderHelp(
  usage: string,
  summary: string,
  specs: readonly OptionSpec[],
  footer = '',
): string {
  const lines: string[] = [`Usage: ${usage}`, '', summary, ''];
  const groups = new Map<string, OptionSpec[]>();
  for (const s of specs) {
    const g = s.group ?? 'Options';
    groups.set(g, [...(groups.get(g) ?? []), s]);
  }
  for (const [group, list] of groups) {
    lines.push(`${group}:`);
    for (const s of list) {
      const hint = s.choices ? `<${s.choices.join('|')}>` : VALUE_HINT[s.kind];
      const def = formatDefault(s);
      const meta = [
        s.required ? 'required' : def !== '' ? `default: ${def}` : '',
        s.noEnv ? '' : `env ${envName(ENV_PREFIX, s.flag)}`,
      ]
        .filter(Boolean)
        .join('; ');
      lines.push(`  --${s.flag}${hint ? ` ${hint}` : ''}`);
      lines.push(`      ${s.help}${meta ? ` (${meta})` : ''}`);
    }
    lines.push('');
  }
  lines.push('  -h, --help', '      Show this help.', '');
  if (footer) lines.push(footer, '');
  return lines.join('\n');
}
