/**
 * Runs `socketlens doctor` in a child process of its own, exactly as cli/main.ts dispatches a
 * command (a ConfigError becomes one line on stderr and exit code 2), and collects its output.
 * The command is loaded from dist/, so the tests exercise the compiled module.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

const SELF = fileURLToPath(import.meta.url);

export function runDoctorCli(args: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Child side: mirror the dispatch in cli/main.ts for the doctor command. */
async function childMain(): Promise<void> {
  const { run } = await import('../../cli/commands/doctor.js');
  const { ConfigError } = await import('../../proxy/errors.js');
  try {
    process.exitCode = await run(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`socketlens doctor: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`socketlens: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === SELF) await childMain();
