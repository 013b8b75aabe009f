/**
 * Writes the committed dashboard JSON files, or with --check verifies they are up to date.
 *
 *   node dist/dashboards/src/generate.js          rewrite dashboards/*.json
 *   node dist/dashboards/src/generate.js --check  exit 1, naming each stale file
 */
import { repoRoot } from './boards.js';
import { staleBoards, writeBoards } from './files.js';

function main(argv: readonly string[]): number {
  const root = repoRoot();
  if (!argv.includes('--check')) {
    for (const file of writeBoards(root)) console.log(`wrote ${file}`);
    return 0;
  }
  const stale = staleBoards(root);
  for (const s of stale) {
    const why = s.reason === 'missing' ? 'is missing' : 'differs from the generator output';
    console.error(`${s.file} ${why}; regenerate with: node dist/dashboards/src/generate.js`);
  }
  return stale.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
