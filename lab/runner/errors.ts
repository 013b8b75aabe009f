/**
 * Coded errors of the lab runner.
 *
 * Every failure the runner can report carries a stable `code` (like Node's own `ERR_*`
 * codes) so drills and tests can branch on the kind of failure without parsing messages,
 * while the message itself stays written for a human: what failed and what to do about it.
 */

export type LabErrorCode =
  | 'ERR_LAB_TEMPLATE_MISSING_VAR'
  | 'ERR_LAB_BINARY_NOT_FOUND'
  | 'ERR_LAB_PROCESS_EXITED'
  | 'ERR_LAB_READY_TIMEOUT'
  | 'ERR_LAB_COMMAND_FAILED'
  | 'ERR_LAB_HTTP';

export class LabError extends Error {
  readonly code: LabErrorCode;
  /** Last lines of the process log, when the failure came from a child process. */
  readonly logTail?: string;

  constructor(code: LabErrorCode, message: string, options: { cause?: unknown; logTail?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    if (options.logTail !== undefined) this.logTail = options.logTail;
  }
}

export function isLabError(err: unknown, code?: LabErrorCode): err is LabError {
  return err instanceof LabError && (code === undefined || err.code === code);
}
