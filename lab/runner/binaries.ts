/**
 * Locates the real programs the lab runs (nginx, haproxy, redis-server, prometheus, promtool,
 * openssl, toxiproxy-server).
 *
 * Search order: every PATH entry, then /usr/sbin and /usr/local/sbin (Debian puts nginx and
 * haproxy there, and they are often missing from a non-root PATH), then the Go bin directory
 * ($GOBIN, `go env GOPATH`/bin, ~/go/bin) where `go install` leaves toxiproxy-server.
 * A miss throws SL_LAB_BINARY_NOT_FOUND with the command that installs it.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LabError } from './errors.js';

const TOXIPROXY_INSTALL =
  'go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 && ' +
  'mv "$(go env GOPATH)/bin/server" "$(go env GOPATH)/bin/toxiproxy-server"';

/** How to install each program; the key is the binary name. */
const INSTALL_HINTS: Readonly<Record<string, string>> = {
  nginx: 'apt-get install nginx',
  haproxy: 'apt-get install haproxy',
  'redis-server': 'apt-get install redis-server',
  'redis-cli': 'apt-get install redis-tools',
  prometheus: 'apt-get install prometheus',
  promtool: 'apt-get install prometheus',
  openssl: 'apt-get install openssl',
  'toxiproxy-server': TOXIPROXY_INSTALL,
};

export function installHint(name: string): string {
  return INSTALL_HINTS[name] ?? `install "${name}" and put it on PATH`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

let goBinDirs: string[] | undefined;

/** Asked lazily and once: running `go env` costs ~50 ms and most lookups hit PATH first. */
function goBinDirectories(): string[] {
  if (goBinDirs !== undefined) return goBinDirs;
  const dirs: string[] = [];
  if (process.env.GOBIN) dirs.push(process.env.GOBIN);
  try {
    const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8', timeout: 5000 }).trim();
    for (const p of gopath.split(delimiter)) if (p) dirs.push(join(p, 'bin'));
  } catch {
    // No Go toolchain: fall back to its default GOPATH below.
  }
  dirs.push(join(homedir(), 'go', 'bin'));
  goBinDirs = dirs;
  return dirs;
}

export function searchDirectories(): string[] {
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...new Set([...pathDirs, '/usr/sbin', '/usr/local/sbin', ...goBinDirectories()])];
}

const found = new Map<string, string>();

/** Absolute path of the executable `name`; throws SL_LAB_BINARY_NOT_FOUND with an install hint. */
export function findBinary(name: string): string {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const dirs = searchDirectories();
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) {
      found.set(name, candidate);
      return candidate;
    }
  }
  throw new LabError(
    'SL_LAB_BINARY_NOT_FOUND',
    `${name} not found (looked in ${dirs.join(', ')}). Install it with: ${installHint(name)}`,
  );
}
