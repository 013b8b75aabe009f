/**
 * Panel factories shared by the boards.
 *
 * Every panel must say what it shows and which failure it reveals (the description is required),
 * and every panel and query is bound to the `${datasource}` variable here, in one place.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE } from './datasource.js';

export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  /** What the panel shows and which failure it reveals. */
  readonly description: string;
  readonly queries: readonly Query[];
  /** Grafana unit id: short (a plain count), cps/ops/reqps (per second), bytes, Bps, s, ms, percentunit. */
  readonly unit: string;
  /** Width in grid columns (of 24). */
  readonly span?: number;
  readonly height?: number;
}

export interface TimeseriesSpec extends PanelSpec {
  /** Series (by display name) drawn in a fixed color, e.g. close code 1006 in red. */
  readonly colors?: Readonly<Record<string, string>>;
}

const REF_IDS = 'ABCDEFGHIJ';

function targets(
  queries: readonly Query[],
  format?: prometheus.PromQueryFormat,
): prometheus.DataqueryBuilder[] {
  return queries.map((q, i) => {
    const t = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(REF_IDS[i]!)
      .expr(q.expr)
      .legendFormat(q.legend)
      .range();
    return format === undefined ? t : t.format(format);
  });
}

function legend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
}

export function timeseriesPanel(spec: TimeseriesSpec): timeseries.PanelBuilder {
  let p = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries))
    .unit(spec.unit)
    .min(0)
    .span(spec.span ?? 12)
    .height(spec.height ?? 8)
    .legend(legend())
    .fillOpacity(10);
  for (const [name, color] of Object.entries(spec.colors ?? {})) {
    p = p.overrideByName(name, [
      { id: 'color', value: { mode: dashboard.FieldColorModeId.Fixed, fixedColor: color } },
      { id: 'custom.lineWidth', value: 3 },
    ]);
  }
  return p;
}

export function statPanel(spec: PanelSpec): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries))
    .unit(spec.unit)
    .span(spec.span ?? 6)
    .height(spec.height ?? 4)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** A heatmap of a Prometheus histogram: one row per bucket, drawn as Prometheus computed them. */
export function heatmapPanel(spec: PanelSpec): heatmap.PanelBuilder {
  return new heatmap.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries, prometheus.PromQueryFormat.Heatmap))
    .span(spec.span ?? 12)
    .height(spec.height ?? 8)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(spec.unit))
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme('Oranges')
        .scale(heatmap.HeatmapColorScale.Exponential)
        .exponent(0.5),
    )
    .cellGap(1)
    .showLegend();
}
