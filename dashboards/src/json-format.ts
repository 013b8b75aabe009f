/**
 * JSON text laid out the way the repository's formatter (Biome) lays it out, so that generated
 * files pass `biome check` untouched and `generate --check` can compare bytes.
 *
 * Objects are always expanded, one member per line. An array of scalars goes on one line when
 * that line fits the width, else one element per line. Anything holding an object or a
 * non-empty array is expanded.
 */
const LINE_WIDTH = 110;
const INDENT = '  ';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isScalar(v: Json): v is null | boolean | number | string {
  return v === null || typeof v !== 'object';
}

function print(v: Json, depth: number, prefixLen: number, suffixLen: number): string {
  if (isScalar(v)) return JSON.stringify(v);
  const pad = INDENT.repeat(depth + 1);
  const end = INDENT.repeat(depth);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every(isScalar)) {
      const flat = `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
      if (prefixLen + flat.length + suffixLen <= LINE_WIDTH) return flat;
    }
    const items = v.map((x, i) => {
      const comma = i < v.length - 1 ? 1 : 0;
      return pad + print(x, depth + 1, pad.length, comma);
    });
    return `[\n${items.join(',\n')}\n${end}]`;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return '{}';
  const members = entries.map(([k, x], i) => {
    const key = `${pad}${JSON.stringify(k)}: `;
    const comma = i < entries.length - 1 ? 1 : 0;
    return key + print(x, depth + 1, key.length, comma);
  });
  return `{\n${members.join(',\n')}\n${end}}`;
}

/** The formatted text of a JSON value, with a trailing newline. */
export function formatJson(value: unknown): string {
  // Round-trip first so toJSON, undefined and non-plain values behave exactly as in JSON.stringify.
  const plain = JSON.parse(JSON.stringify(value)) as Json;
  return `${print(plain, 0, 0, 0)}\n`;
}
