/**
 * The human report: one line per check with a mark (✓ ok, ! warn, ✗ fail, - skip), then the
 * verdict and its fixes. Progress goes to stderr while the steps run; on a terminal each
 * progress line is erased once its checks are printed.
 */
import { humanDuration } from '../proxy/config/units.js';
import type { Check, CheckStatus, DoctorReport, ProgressSink } from './report.js';

export const MARKS: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

const TITLE_WIDTH = 26;

export function renderCheck(c: Check): string {
  return `${MARKS[c.status]} ${c.title.padEnd(TITLE_WIDTH)} ${c.summary}\n`;
}

export function renderVerdict(report: DoctorReport): string {
  const v = report.verdict;
  const lines = ['', `Verdict: ${v.summary}`];
  if (v.transport !== 'none') lines.push(`  transport: ${v.transport}`);
  for (const fix of v.fixes) {
    lines.push(`  ${MARKS[fix.severity]} ${fix.problem}: ${fix.advice}`);
    for (const l of fix.lines) lines.push(`        ${l}`);
  }
  lines.push(`  (${humanDuration(report.durationMs)}, exit ${report.exitCode})`, '');
  return lines.join('\n');
}

export function renderHeader(url: string): string {
  return `socketlens doctor ${url}\n\n`;
}

/** Writes checks to `out` as they come and progress to `err`. */
export function humanProgress(
  out: NodeJS.WritableStream,
  err: NodeJS.WriteStream | NodeJS.WritableStream,
): ProgressSink {
  const tty = (err as NodeJS.WriteStream).isTTY === true;
  let pending = false;
  const clear = () => {
    if (tty && pending) err.write('\r\x1b[2K');
    pending = false;
  };
  return {
    step(title) {
      clear();
      if (tty) {
        err.write(`… ${title}`);
        pending = true;
      } else err.write(`… ${title}\n`);
    },
    check(c) {
      clear();
      out.write(renderCheck(c));
    },
  };
}

export const silentProgress: ProgressSink = { step() {}, check() {} };
