/** The verdict of the checks that run on an upgrade request before the backend is contacted. */
import type { IncomingMessage } from 'node:http';
import type { HandshakeFailureReason } from '../metrics/definitions.js';

export type CheckVerdict =
  | { ok: true; principal?: string; release?: () => void }
  | {
      ok: false;
      status: number;
      reason: HandshakeFailureReason;
      message: string;
      /** Which check refused and why, for the close log's `detail` (never secret). */
      detail?: string;
      headers?: Record<string, string>;
    };

export interface UpgradeChecks {
  /** Runs every configured check in order; the first refusal wins. */
  check(req: IncomingMessage): Promise<CheckVerdict>;
}
