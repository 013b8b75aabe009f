/**
 * Where the lab finds its config templates and keeps its runtime files.
 *
 * The compiled runner lives in dist/lab/runner, the templates in lab/configs and the runtime
 * state (logs, pid files, certs, TSDB) in `.lab/` at the repository root (gitignored). The root
 * is found by walking up to the nearest package.json, so the same code works from `dist/` and
 * from an installed package (which ships lab/configs next to dist/).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) break;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`socketlens lab: no package.json above ${import.meta.url}`);
    dir = parent;
  }
  cachedRoot = dir;
  return dir;
}

/** Path of a file under lab/configs, e.g. `configPath('nginx', 'edge.conf.template')`. */
export function configPath(component: string, file: string): string {
  return join(repoRoot(), 'lab', 'configs', component, file);
}

/** The default root for runtime files; override with SOCKETLENS_LAB_DIR. */
export function defaultWorkRoot(): string {
  return process.env.SOCKETLENS_LAB_DIR ?? join(repoRoot(), '.lab');
}

/**
 * A fresh directory for one component instance. Unique per call, so parallel test files
 * (and two nginx instances in one drill) never share pid files, logs or temp paths.
 */
export function makeWorkDir(component: string, workRoot: string = defaultWorkRoot()): string {
  mkdirSync(workRoot, { recursive: true });
  return mkdtempSync(join(workRoot, `${component}-`));
}
