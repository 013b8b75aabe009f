/**
 * Turns Node's ERR_MODULE_NOT_FOUND into one line a user can act on. It happens when a command
 * needs a package the installation left out (the lab's optional peers), or when the command
 * itself is not in this installation (the sidecar image ships only the sidecar).
 */

/** One line naming what is missing, or null when `err` is not a missing module. */
export function missingModule(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || typeof e.message !== 'string') return null;
  const pkg = /Cannot find package '([^']+)'/.exec(e.message);
  if (pkg) return `needs the package "${pkg[1]}", which is not installed (npm install ${pkg[1]})`;
  const file = /Cannot find module '([^']+)'/.exec(e.message);
  if (file && /\/dist\/(doctor|lab|cli)\//.test(file[1] ?? ''))
    return 'this command is not part of this installation (the sidecar image carries only `socketlens proxy`)';
  return `a module is missing: ${e.message.split('\n')[0]}`;
}
