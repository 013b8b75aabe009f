/** A drain without exit through a sidecar's admin server, the way an operator or a preStop hook starts one. */
import { LabError } from '../runner/errors.js';

/** POST /drain, then GET /drain until its phase is "drained" (or `timeoutMs` passes). */
export async function drainOverAdmin(
  adminAddress: string,
  opts: { windowMs: number; delayMs: number },
  timeoutMs = opts.delayMs + opts.windowMs + 30_000,
): Promise<void> {
  const base = `http://${adminAddress}/drain`;
  const res = await fetch(`${base}?window=${opts.windowMs}ms&delay=${opts.delayMs}ms`, { method: 'POST' });
  await res.arrayBuffer();
  if (res.status !== 202 && res.status !== 200)
    throw new LabError('SL_LAB_HTTP', `POST ${base} answered ${res.status}`);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const status = (await (await fetch(base)).json()) as { phase: string };
    if (status.phase === 'drained') return;
    if (Date.now() > end)
      throw new LabError('SL_LAB_TIMEOUT', `the drain at ${adminAddress} did not end within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
