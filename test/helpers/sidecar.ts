/** Starts a sidecar on ephemeral ports with its close log captured, for tests. */
import { type SidecarConfig, sidecarConfig } from '../../proxy/config/sidecar-options.js';
import type { UpgradeChecks } from '../../proxy/policy/types.js';
import { type Sidecar, type SidecarOptions, startSidecar } from '../../proxy/sidecar.js';
import type { CloseRecord } from '../../proxy/telemetry/close-log.js';

export interface TestSidecar extends Sidecar {
  logs: CloseRecord[];
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function startTestSidecar(
  targetPort: number,
  overrides: Partial<SidecarConfig> = {},
  checks: UpgradeChecks | null = null,
  opts: Pick<SidecarOptions, 'faultLog' | 'clock'> = {},
): Promise<TestSidecar> {
  const logs: CloseRecord[] = [];
  const config = sidecarConfig({
    target: `http://127.0.0.1:${targetPort}`,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    ...overrides,
  });
  const s = await startSidecar(config, { log: (r) => logs.push(r), checks, ...opts });
  return Object.assign(s, {
    logs,
    metric: (name: string, labels: Record<string, string> = {}) => s.ctx.metrics.value(name, labels),
  });
}
