/** Builds the upgrade checks the configuration asks for (null when none). */
import type { SidecarConfig } from '../config/sidecar-options.js';
import type { UpgradeChecks } from './types.js';

export async function buildChecks(_config: SidecarConfig): Promise<UpgradeChecks | null> {
  return null;
}
