/**
 * The checks that run on every upgrade request before the backend is contacted, cheapest
 * first: connection and rate limits, the Origin allowlist, then authentication (JWT or forward
 * auth). The first refusal wins; a slot taken by the limits is given back if a later check
 * refuses or throws.
 */
import type { IncomingMessage } from 'node:http';
import type { SidecarConfig } from '../config/sidecar-options.js';
import { forwardAuthCheck } from './forward-auth.js';
import { limitsCheck } from './limits.js';
import { originCheck } from './origin.js';
import type { CheckVerdict, UpgradeChecks } from './types.js';

type Check = (req: IncomingMessage) => CheckVerdict | null | Promise<CheckVerdict | null>;

export async function buildChecks(config: SidecarConfig): Promise<UpgradeChecks | null> {
  const checks: Check[] = [];
  if (config.maxConnections > 0 || config.maxConnectionsPerIp > 0 || config.upgradeRate > 0)
    checks.push(limitsCheck(config));
  if (config.allowOrigin && config.allowOrigin.length > 0) checks.push(originCheck(config.allowOrigin));
  // jose is loaded only when a JWT check is configured.
  if (config.jwtKey || config.jwtJwksUrl) checks.push((await import('./jwt.js')).jwtCheck(config));
  if (config.forwardAuthUrl) checks.push(forwardAuthCheck(config));
  if (checks.length === 0) return null;
  return {
    async check(req) {
      const releases: Array<() => void> = [];
      let principal: string | undefined;
      try {
        for (const c of checks) {
          const v = await c(req);
          if (v === null) continue;
          if (!v.ok) {
            for (const r of releases) r();
            return v;
          }
          if (v.release) releases.push(v.release);
          principal = v.principal ?? principal;
        }
      } catch (err) {
        // A check that throws must not keep the slots the earlier checks took.
        for (const r of releases) r();
        throw err;
      }
      return {
        ok: true,
        principal,
        release: () => {
          for (const r of releases) r();
        },
      };
    },
  };
}
