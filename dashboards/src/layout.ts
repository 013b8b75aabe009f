/**
 * Assembles a board from rows of panels.
 *
 * Rows are emitted expanded, with their panels following them at the top level: that is how
 * Grafana stores an open row (a collapsed row keeps its panels inside itself instead), so every
 * panel is visible as soon as the board opens.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  DashboardCursorSync,
  type Panel,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, fleetVariables } from './datasource.js';

export interface Row {
  readonly title: string;
  readonly panels: readonly Builder<Panel>[];
}

export interface BoardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly rows: readonly Row[];
}

export function buildBoard(spec: BoardSpec): DashboardBuilder {
  let b = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['socketlens', ...spec.tags])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-30m', to: 'now' })
    .refresh('10s')
    .timezone('browser')
    .withVariable(datasourceVariable());
  for (const v of fleetVariables()) b = b.withVariable(v);
  for (const row of spec.rows) {
    b = b.withRow(new RowBuilder(row.title).collapsed(false));
    for (const panel of row.panels) b = b.withPanel(panel);
  }
  return b;
}
