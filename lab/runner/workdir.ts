/**
 * The per-instance work directory of a component, and when to delete it.
 *
 * A directory the runner created is removed on a clean stop, so repeated test runs do not pile
 * up TSDBs and certs in `.lab/`. It is kept when the caller chose the directory, asked to keep
 * it (`keepWorkDir`, or SOCKETLENS_LAB_KEEP=1), or the start failed — then its log is the clue.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { makeWorkDir } from './paths.js';

export interface WorkDirOptions {
  /** Use exactly this directory (created if missing; never deleted). */
  workDir?: string;
  /** Parent for a fresh per-instance directory; default `.lab/` in the repo. */
  workRoot?: string;
  keepWorkDir?: boolean;
}

export interface WorkDir {
  readonly path: string;
  /** Deletes the directory if the runner owns it and nobody asked to keep it. */
  release(): Promise<void>;
}

export function prepareWorkDir(component: string, opts: WorkDirOptions = {}): WorkDir {
  if (opts.workDir !== undefined) {
    mkdirSync(opts.workDir, { recursive: true });
    return { path: opts.workDir, release: async () => {} };
  }
  const path = makeWorkDir(component, opts.workRoot);
  const keep = opts.keepWorkDir === true || process.env.SOCKETLENS_LAB_KEEP === '1';
  return {
    path,
    release: async () => {
      if (!keep) await rm(path, { recursive: true, force: true });
    },
  };
}
