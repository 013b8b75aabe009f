/**
 * The layout is the architecture (ARCHITECTURE.md): each part may import only the parts below it.
 * This test reads every import of every source file, static and dynamic, with TypeScript's own
 * pre-processor, and fails naming the file and the import that breaks a rule.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../../lab/runner/paths.js';

const ROOT = repoRoot();
const PARTS = ['cli', 'proxy', 'doctor', 'lab', 'dashboards', 'bench'] as const;
type Part = (typeof PARTS)[number];

/** What each part may import besides itself; `test/` and `scripts/` may import anything. */
const MAY_IMPORT: Record<Part, readonly Part[]> = {
  proxy: [],
  doctor: ['proxy'],
  lab: ['proxy'],
  dashboards: ['proxy'],
  bench: ['proxy', 'lab'],
  cli: ['proxy', 'doctor', 'lab'],
};

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/** Packages a part may load at run time from an installed socketlens. */
function packagesFor(part: Part): ReadonlySet<string> {
  const runtime = Object.keys(pkg.dependencies);
  if (part === 'lab' || part === 'cli')
    return new Set([...runtime, ...Object.keys(pkg.peerDependencies ?? {})]);
  if (part === 'proxy' || part === 'doctor') return new Set(runtime);
  return new Set(); // bench and dashboards are not shipped: any package of the tree
}

interface Import {
  file: string;
  spec: string;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(part: Part): Import[] {
  const out: Import[] = [];
  for (const file of sources(join(ROOT, part))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const f of info.importedFiles) out.push({ file: relative(ROOT, file), spec: f.fileName });
  }
  return out;
}

function partOf(absPath: string): string {
  return relative(ROOT, absPath).split(sep)[0] ?? '';
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? spec);
}

const BUILTINS = new Set(builtinModules);

/** Every broken rule of one part, as "file: import 'spec' (why)". */
function violations(part: Part): string[] {
  const bad: string[] = [];
  const pkgs = packagesFor(part);
  for (const { file, spec } of importsOf(part)) {
    if (spec.startsWith('.')) {
      const target = partOf(resolve(ROOT, dirname(file), spec));
      if (target !== part && !MAY_IMPORT[part].includes(target as Part))
        bad.push(`${file}: import '${spec}' (${part}/ may not import ${target}/)`);
    } else if (!spec.startsWith('node:') && !BUILTINS.has(spec) && pkgs.size > 0) {
      const name = packageName(spec);
      if (!pkgs.has(name))
        bad.push(`${file}: import '${spec}' (${name} is not a runtime dependency of ${part}/)`);
    }
  }
  return bad;
}

describe('import directions (ARCHITECTURE.md)', () => {
  for (const part of PARTS) {
    it(`${part}/ imports only ${MAY_IMPORT[part].length ? MAY_IMPORT[part].join(', ') : 'itself'} and its runtime packages`, () => {
      assert.ok(importsOf(part).length > 0, `no imports found under ${part}/: is the scanner broken?`);
      assert.deepEqual(violations(part), []);
    });
  }

  it('the scanner catches a forbidden import (proof that the rule can fail)', () => {
    const info = ts.preProcessFile(
      "import { x } from '../lab/lab.js';\nawait import('../../doctor/a.js');",
      true,
      true,
    );
    assert.deepEqual(
      info.importedFiles.map((f) => f.fileName),
      ['../lab/lab.js', '../../doctor/a.js'],
    );
    assert.equal(partOf(resolve(ROOT, 'proxy/ws', '../../lab/lab.js')), 'lab');
  });

  it('ARCHITECTURE.md states the same rules as this test', () => {
    const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `([a-z]+)\/` +\|[^|]*\|([^|]*)\|/gm)) rows.set(m[1]!, m[2]!.trim());
    for (const part of PARTS) {
      const cell = rows.get(part);
      assert.ok(cell !== undefined, `ARCHITECTURE.md has no row for ${part}/`);
      const named = [...cell.matchAll(/`([a-z]+)\/`/g)].map((m) => m[1]);
      assert.deepEqual(named.sort(), [...MAY_IMPORT[part]].sort(), `${part}/ row: ${cell}`);
    }
  });

  it('the CLI loads every subcommand lazily (no static import of cli/commands/)', () => {
    const file = join(ROOT, 'cli/main.ts');
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022);
    const staticImports = source.statements
      .filter(ts.isImportDeclaration)
      .map((d) => (d.moduleSpecifier as ts.StringLiteral).text);
    assert.ok(staticImports.length > 0);
    assert.deepEqual(
      staticImports.filter((s) => s.includes('/commands/')),
      [],
    );
  });
});
