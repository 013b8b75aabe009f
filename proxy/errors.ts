/**
 * Coded errors. Every error socketlens raises on purpose carries a stable `code`, so callers and
 * tests can tell them apart without matching messages.
 */
export class SocketlensError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SocketlensError';
    this.code = code;
  }
}

/** Bad configuration: one field, one problem. The CLI prints it as one line and exits with 2. */
export class ConfigError extends SocketlensError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super('SL_CONFIG', `${field}: ${problem}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}
