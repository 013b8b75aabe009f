/**
 * The committed JSON files of the boards: write them, or list the ones that are out of date.
 * The repository root is a parameter so tests can point these at a scratch copy.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOARDS, render } from './boards.js';

export interface StaleBoard {
  readonly file: string;
  readonly reason: 'missing' | 'differs';
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Boards whose committed file is missing or differs from the generator output. */
export function staleBoards(root: string): StaleBoard[] {
  const out: StaleBoard[] = [];
  for (const board of BOARDS) {
    const have = readOrNull(join(root, board.file));
    if (have === null) out.push({ file: board.file, reason: 'missing' });
    else if (have !== render(board)) out.push({ file: board.file, reason: 'differs' });
  }
  return out;
}

/** Writes every board's file; returns the files written. */
export function writeBoards(root: string): string[] {
  return BOARDS.map((board) => {
    writeFileSync(join(root, board.file), render(board));
    return board.file;
  });
}
