/**
 * The `socketlens` command line: a subcommand per job, each loaded only when it runs. Bad input is
 * one line on stderr that names the problem, and exit code 2.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../proxy/errors.js';
import { missingModule } from './missing-module.js';
import { SUMMARIES } from './summaries.js';

interface Command {
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/** Each command is loaded only when it runs: an installation without the lab still lists it. */
const COMMANDS: Record<keyof typeof SUMMARIES, () => Promise<Command>> = {
  proxy: () => import('./commands/proxy.js'),
  lab: () => import('./commands/lab.js'),
  doctor: () => import('./commands/doctor.js'),
  fault: () => import('./commands/fault.js'),
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usage(): string {
  const lines = ['Usage: socketlens <command> [options]', '', 'Commands:'];
  for (const [name, summary] of Object.entries(SUMMARIES)) lines.push(`  ${name.padEnd(8)} ${summary}`);
  lines.push('', 'Run `socketlens <command> --help` for the options of a command.', '');
  return lines.join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name as keyof typeof COMMANDS] : undefined;
  if (!load) {
    process.stderr.write(
      `socketlens: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})\n`,
    );
    return 2;
  }
  try {
    const cmd = await load();
    return await cmd.run(rest, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`socketlens ${name}: ${err.message}\n`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      process.stderr.write(`socketlens ${name}: cannot listen: ${e.message}\n`);
      return 2;
    }
    const missing = missingModule(err);
    if (missing !== null) {
      process.stderr.write(`socketlens ${name}: ${missing}\n`);
      return 1;
    }
    throw err;
  }
}
