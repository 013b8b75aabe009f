/**
 * Every panel query of every board, with Grafana's macros replaced by concrete windows, so a
 * test can send each one to a real Prometheus and see that it parses and returns data.
 */
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { BOARDS } from './boards.js';

export interface PanelQuery {
  /** The dashboard uid. */
  readonly dashboard: string;
  /** The panel title. */
  readonly panel: string;
  /** PromQL with no Grafana macro left in it. */
  readonly expr: string;
}

/**
 * What each macro stands for outside Grafana. 1m is four 15 s scrapes, the smallest window
 * $__rate_interval takes with Prometheus' default scrape interval; 15s is one step.
 */
export const MACRO_VALUES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '30m',
};

/** What the fleet variables ($job, $instance) stand for when "All" is selected. */
export const ALL_VALUES: Readonly<Record<string, string>> = { job: '.+', instance: '.+' };

/**
 * Replaces `$__x` and `${__x}` macros and the fleet variables (`$job`, `$instance`: "All" unless
 * `variables` gives a value, a regex as Grafana sends it); throws on one it does not know.
 */
export function expandMacros(expr: string, variables: Readonly<Record<string, string>> = {}): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = MACRO_VALUES[name] ?? variables[name] ?? ALL_VALUES[name];
    if (value === undefined) throw new Error(`unknown Grafana macro ${whole} in: ${expr}`);
    return value;
  });
}

function panelsOf(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) {
    if (p.type === 'row') out.push(...((p as RowPanel).panels ?? []));
    else out.push(p as Panel);
  }
  return out;
}

export function listPanelQueries(variables: Readonly<Record<string, string>> = {}): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const board of BOARDS) {
    const d = board.build();
    for (const panel of panelsOf(d)) {
      for (const target of panel.targets ?? []) {
        const expr = (target as { expr?: unknown }).expr;
        if (typeof expr !== 'string') continue;
        out.push({
          dashboard: d.uid ?? board.file,
          panel: panel.title ?? '',
          expr: expandMacros(expr, variables),
        });
      }
    }
  }
  return out;
}
