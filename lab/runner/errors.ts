/**
 * Coded errors of the lab runner.
 *
 * Every failure the runner can report carries a stable `code` in the project's `SL_<PART>_<WHAT>`
 * style (see proxy/errors.ts), so drills and tests can branch on the kind of failure without parsing messages,
 * while the message itself stays written for a human: what failed and what to do about it.
 */
import { SocketlensError } from '../../proxy/errors.js';

export type LabErrorCode =
  | 'SL_LAB_TEMPLATE_MISSING_VAR'
  | 'SL_LAB_BINARY_NOT_FOUND'
  | 'SL_LAB_PROCESS_EXITED'
  | 'SL_LAB_READY_TIMEOUT'
  | 'SL_LAB_COMMAND_FAILED'
  | 'SL_LAB_HTTP'
  | 'SL_LAB_COMPOSE'
  | 'SL_LAB_TIMEOUT'
  | 'SL_LAB_UNSUPPORTED';

export class LabError extends SocketlensError {
  declare readonly code: LabErrorCode;
  /** Last lines of the process log, when the failure came from a child process. */
  readonly logTail?: string;

  constructor(code: LabErrorCode, message: string, options: { cause?: unknown; logTail?: string } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabError';
    if (options.logTail !== undefined) this.logTail = options.logTail;
  }
}

export function isLabError(err: unknown, code?: LabErrorCode): err is LabError {
  return err instanceof LabError && (code === undefined || err.code === code);
}
