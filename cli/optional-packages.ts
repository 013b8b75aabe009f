/**
 * The lab's packages are optional peers of socketlens: a sidecar-only install does not pull them
 * in. A command that needs them checks first and says in one line what to install.
 */
import { readFileSync } from 'node:fs';

interface PackageJson {
  peerDependencies?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;

/** What the native lab loads: the demo backend (ws, redis) and the Toxiproxy client. */
export const LAB_PACKAGES = ['ws', 'redis', 'toxiproxy-node-client'] as const;
/** What `lab --env compose` loads on top: nothing, it spawns the `docker compose` CLI itself. */
export const COMPOSE_PACKAGES: readonly string[] = [];

function resolvable(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The peers among `names` that this installation cannot load (names we do not declare are skipped). */
export function missingPackages(names: readonly string[]): string[] {
  return names.filter((n) => pkg.peerDependencies?.[n] !== undefined && !resolvable(n));
}

/** "needs ... : npm install a@1 b@2", for the packages missingPackages() returned. */
export function installLine(missing: readonly string[]): string {
  const specs = missing.map((n) => `${n}@${pkg.peerDependencies?.[n] ?? 'latest'}`);
  return `needs ${missing.join(', ')}, not installed with socketlens by default; install with: npm install ${specs.join(' ')}`;
}
