/**
 * Coded errors of `socketlens doctor`. A probe that fails turns its error into a ✗ check, so the
 * code (not the message) is what the report and the verdict branch on.
 */
import { SocketlensError } from '../proxy/errors.js';

export type DoctorErrorCode =
  /** The host name did not resolve (in time). */
  | 'SL_DOCTOR_DNS'
  /** No address accepted a TCP connection. */
  | 'SL_DOCTOR_CONNECT'
  /** The TLS handshake failed or timed out (an untrusted certificate is reported, not thrown). */
  | 'SL_DOCTOR_TLS'
  /** TCP connect, or an answer after it, did not come within --timeout. */
  | 'SL_DOCTOR_TIMEOUT'
  /** A GET was accepted but held open with no response headers within --timeout. */
  | 'SL_DOCTOR_NO_HEADERS'
  /** The peer closed the connection (FIN) before answering. */
  | 'SL_DOCTOR_CLOSED'
  /** The peer reset the connection (RST) before answering. */
  | 'SL_DOCTOR_RESET'
  /** The answer was not HTTP we can read. */
  | 'SL_DOCTOR_BAD_RESPONSE';

export class DoctorError extends SocketlensError {
  declare readonly code: DoctorErrorCode;
  constructor(code: DoctorErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DoctorError';
  }
}

/** A short human reason for any error a probe may meet: our own, or a Node socket error. */
export function describeError(err: unknown): string {
  if (err instanceof DoctorError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNRESET') return 'connection reset by peer (RST)';
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'EPIPE') return 'connection closed while writing';
  return e?.message ?? String(err);
}

/** Rejects with SL_DOCTOR_TIMEOUT when `promise` takes longer than `ms`; `onTimeout` cleans up. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new DoctorError('SL_DOCTOR_TIMEOUT', `${what}: no answer within ${ms} ms`));
    }, ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
