/**
 * The Prometheus data source of every board, chosen by a dashboard variable.
 *
 * Panels and queries point at `${datasource}` instead of a uid, so the JSON imports into any
 * Grafana whatever its data source is called there.
 */
import { DatasourceVariableBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const DATASOURCE_VARIABLE = 'datasource';

// A Grafana variable reference, not a JS template: the braces are meant literally.
export const DATASOURCE_UID = `\${${DATASOURCE_VARIABLE}}`;

export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: DATASOURCE_UID };

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type('prometheus');
}
