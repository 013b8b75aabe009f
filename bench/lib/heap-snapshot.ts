/**
 * Reads a V8 heap snapshot (.heapsnapshot, the format `--heapsnapshot-signal` writes) into live
 * bytes per kind of object, and compares two of them. A snapshot holds only what is reachable,
 * so the difference between one taken before and one taken after opening N connections, divided
 * by N, is what each connection keeps alive on the JavaScript heap, by constructor.
 */

export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface KindTotal {
  count: number;
  bytes: number;
}

/** Node types whose name says nothing useful alone: grouped under one label each. */
const GROUPED: Readonly<Record<string, string>> = {
  string: '(strings)',
  'concatenated string': '(strings)',
  'sliced string': '(strings)',
  number: '(heap numbers)',
  code: '(compiled code)',
};

/** Live bytes and objects per kind: the constructor's name, `(closure) fn` or a grouped label. */
export function liveByKind(s: HeapSnapshot): Map<string, KindTotal> {
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, KindTotal>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    const name = s.strings[s.nodes[i + iName]!] ?? '';
    const kind =
      GROUPED[type] ??
      (type === 'closure'
        ? `(closure) ${name || 'anonymous'}`
        : type === 'object'
          ? name
          : `(${type}) ${name}`);
    const t = out.get(kind) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += s.nodes[i + iSize]!;
    out.set(kind, t);
  }
  return out;
}

export interface KindDelta {
  kind: string;
  /** Objects added per unit (per connection). */
  count: number;
  /** Bytes added per unit. */
  bytes: number;
}

/** (after − before) / units per kind, largest first; kinds that did not grow are left out. */
export function growthPerUnit(
  before: Map<string, KindTotal>,
  after: Map<string, KindTotal>,
  units: number,
): KindDelta[] {
  const out: KindDelta[] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / units;
    if (bytes <= 0) continue;
    out.push({ kind, count: (a.count - b.count) / units, bytes });
  }
  return out.sort((x, y) => y.bytes - x.bytes);
}
