/**
 * Finds the metric names a PromQL expression reads, so tests can hold dashboards and rules to
 * the metric contract. A light lexer, not a parser: it blanks out what cannot hold a metric
 * name (strings, label matchers, range windows, grouping clauses) and keeps the identifiers that
 * are not called like functions and are not PromQL keywords.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'atan2',
  'inf',
  'nan',
]);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  // An identifier not glued to a number (the `m` of `1m`, the `e6` of `1e6`).
  for (const m of stripped.matchAll(/(?<![\w:.])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const after = stripped.slice(m.index + word.length);
    if (/^\s*\(/.test(after)) continue; // a function or an aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}
