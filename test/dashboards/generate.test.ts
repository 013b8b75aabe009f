// The committed dashboard JSON is exactly what the generator produces, and --check says so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BOARDS, render, repoRoot } from '../../dashboards/src/boards.js';
import { staleBoards } from '../../dashboards/src/files.js';
import { formatJson } from '../../dashboards/src/json-format.js';

const ROOT = repoRoot();

describe('committed dashboards', () => {
  test('are the three boards, at their agreed paths', () => {
    assert.deepEqual(
      BOARDS.map((b) => b.file),
      ['dashboards/overview.json', 'dashboards/failure-modes.json', 'dashboards/protocols.json'],
    );
  });

  for (const board of BOARDS) {
    test(`${board.file} equals the generator output byte for byte`, () => {
      const committed = readFileSync(join(ROOT, board.file), 'utf8');
      assert.equal(committed, render(board));
    });
  }

  test('rendering twice gives the same text', () => {
    for (const board of BOARDS) assert.equal(render(board), render(board));
  });

  test('staleBoards finds nothing in the repository', () => {
    assert.deepEqual(staleBoards(ROOT), []);
  });

  test('staleBoards names a changed file and a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'socketlens-dash-'));
    try {
      cpSync(join(ROOT, 'dashboards'), join(dir, 'dashboards'), { recursive: true });
      const overview = join(dir, 'dashboards/overview.json');
      writeFileSync(overview, readFileSync(overview, 'utf8').replace('"socketlens-overview"', '"changed"'));
      rmSync(join(dir, 'dashboards/failure-modes.json'));
      assert.deepEqual(staleBoards(dir), [
        { file: 'dashboards/overview.json', reason: 'differs' },
        { file: 'dashboards/failure-modes.json', reason: 'missing' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the CLI --check exits 0 on the repository', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/dashboards/src/generate.js'), '--check'], {
      encoding: 'utf8',
    });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  const biome = join(ROOT, 'node_modules/.bin/biome');
  test('the committed files already satisfy the Biome formatter', {
    skip: !existsSync(biome) && 'biome not installed',
  }, () => {
    const files = BOARDS.map((b) => b.file);
    const r = spawnSync(biome, ['format', ...files], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

describe('formatJson', () => {
  test('expands objects, keeps short scalar arrays on one line, breaks long ones', () => {
    const long = Array.from({ length: 12 }, (_, i) => `value-number-${i}`);
    const text = formatJson({ a: 1, tags: ['x', 'y'], empty: [], none: {}, list: [{ b: null }], long });
    const expected = [
      '{',
      '  "a": 1,',
      '  "tags": ["x", "y"],',
      '  "empty": [],',
      '  "none": {},',
      '  "list": [',
      '    {',
      '      "b": null',
      '    }',
      '  ],',
      '  "long": [',
      ...long.map((v, i) => `    "${v}"${i < long.length - 1 ? ',' : ''}`),
      '  ]',
      '}',
      '',
    ].join('\n');
    assert.equal(text, expected);
  });

  test('drops undefined members like JSON.stringify', () => {
    assert.equal(formatJson({ a: undefined, b: 2 }), '{\n  "b": 2\n}\n');
  });
});
