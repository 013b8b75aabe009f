/**
 * Runs a short-lived helper program (openssl, promtool, `nginx -t`) to completion.
 * A non-zero exit becomes SL_LAB_COMMAND_FAILED carrying the program's own stderr,
 * which is where these tools explain what is wrong.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { LabError } from './errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export function runCommand(
  command: string,
  args: readonly string[],
  { cwd, timeoutMs = 30_000 }: { cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || stdout || err.message).trim();
        reject(
          new LabError('SL_LAB_COMMAND_FAILED', `${basename(command)} ${args.join(' ')} failed:\n${detail}`, {
            cause: err,
          }),
        );
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}
