/**
 * The Prometheus data source of every board, chosen by a dashboard variable.
 *
 * Panels and queries point at `${datasource}` instead of a uid, so the JSON imports into any
 * Grafana whatever its data source is called there.
 */
import {
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS } from '../../proxy/metrics/definitions.js';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const DATASOURCE_VARIABLE = 'datasource';

// A Grafana variable reference, not a JS template: the braces are meant literally.
export const DATASOURCE_UID = `\${${DATASOURCE_VARIABLE}}`;

export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: DATASOURCE_UID };

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type('prometheus');
}

/**
 * The fleet variables: which Prometheus job (one per service, usually) and which instances
 * (sidecars) every query reads. Each is multi-valued with "All" (a regex matching any value), so
 * one board serves every deployment and can narrow to one service or one sidecar.
 */
export const FLEET_VARIABLES = ['job', 'instance'] as const;

/** Label matchers every series selector carries: `job=~"$job", instance=~"$instance"`. */
export const FLEET_MATCHERS: Readonly<Record<string, string>> = Object.fromEntries(
  FLEET_VARIABLES.map((v) => [v, `$${v}`]),
);

/** A metric every sidecar exports from its start (a gauge, present even with no traffic). */
const PRESENCE = METRICS.connectionsActive.name;

export function fleetVariables(): QueryVariableBuilder[] {
  const job = `label_values(${PRESENCE}, job)`;
  const instance = `label_values(${PRESENCE}{job=~"$job"}, instance)`;
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(DATASOURCE)
      .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.+')
      .current({ selected: true, text: ['All'], value: ['$__all'] });
  return [variable('job', 'Job', job), variable('instance', 'Instance', instance)];
}
