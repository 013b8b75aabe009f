/**
 * The boards this project ships and how each is rendered to its committed JSON file.
 *
 * Rendering is deterministic (fixed key order from the builders, panel ids numbered in layout
 * order, Biome's JSON layout), so the committed files can be compared byte for byte.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { failureModesBoard } from './failure-modes.js';
import { formatJson } from './json-format.js';
import { overviewBoard } from './overview.js';
import { protocolsBoard } from './protocols.js';

export interface Board {
  /** Path of the committed JSON, relative to the repository root. */
  readonly file: string;
  readonly build: () => Dashboard;
}

export const BOARDS: readonly Board[] = [
  { file: 'dashboards/overview.json', build: () => numberPanels(overviewBoard().build()) },
  { file: 'dashboards/failure-modes.json', build: () => numberPanels(failureModesBoard().build()) },
  { file: 'dashboards/protocols.json', build: () => numberPanels(protocolsBoard().build()) },
];

/** Grafana keys panels (links, alerts, repeat) by id: give each a stable one in layout order. */
function numberPanels(d: Dashboard): Dashboard {
  let next = 1;
  const visit = (panels: ReadonlyArray<Panel | RowPanel> | undefined) => {
    for (const p of panels ?? []) {
      p.id = next++;
      if (p.type === 'row') visit((p as RowPanel).panels);
    }
  };
  visit(d.panels);
  return d;
}

export function render(board: Board): string {
  return formatJson(board.build());
}

/** The repository root: the nearest directory above this module holding a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no package.json above the dashboards generator');
    dir = up;
  }
  return dir;
}
