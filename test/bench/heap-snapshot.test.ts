// Heap snapshots read into live bytes per kind, and the growth per connection between two.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growthPerUnit, type HeapSnapshot, liveByKind } from '../../bench/lib/heap-snapshot.js';

/** A snapshot in V8's layout: each node is [type, name, id, self_size] here. */
function snap(nodes: Array<[string, string, number]>): HeapSnapshot {
  const types = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'number'];
  const strings: string[] = [];
  const str = (s: string) => {
    const i = strings.indexOf(s);
    return i >= 0 ? i : strings.push(s) - 1;
  };
  return {
    snapshot: { meta: { node_fields: ['type', 'name', 'id', 'self_size'], node_types: [types] } },
    nodes: nodes.flatMap(([type, name, size], id) => [types.indexOf(type), str(name), id, size]),
    strings,
  };
}

test('liveByKind: constructors by name, closures by function, strings and code grouped', () => {
  const kinds = liveByKind(
    snap([
      ['object', 'Socket', 328],
      ['object', 'Socket', 328],
      ['closure', 'onData', 56],
      ['closure', '', 32],
      ['string', 'a', 20],
      ['string', 'bb', 24],
      ['code', 'x', 300],
      ['array', '', 16],
    ]),
  );
  assert.deepEqual(Object.fromEntries(kinds), {
    Socket: { count: 2, bytes: 656 },
    '(closure) onData': { count: 1, bytes: 56 },
    '(closure) anonymous': { count: 1, bytes: 32 },
    '(strings)': { count: 2, bytes: 44 },
    '(compiled code)': { count: 1, bytes: 300 },
    '(array) ': { count: 1, bytes: 16 },
  });
});

test('growthPerUnit: per-connection growth, largest first, shrinking kinds left out', () => {
  const before = liveByKind(
    snap([
      ['object', 'Socket', 300],
      ['string', 's', 100],
    ]),
  );
  const after = liveByKind(
    snap([
      ['object', 'Socket', 300],
      ['object', 'Socket', 300],
      ['object', 'Socket', 300],
      ['object', 'Pipe', 200],
      ['object', 'Pipe', 200],
    ]),
  );
  assert.deepEqual(growthPerUnit(before, after, 2), [
    { kind: 'Socket', count: 1, bytes: 300 },
    { kind: 'Pipe', count: 1, bytes: 200 },
  ]);
});
