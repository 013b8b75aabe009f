/**
 * Step 5: the long-poll path, the bottom rung of the fallback ladder: reachable, status, and
 * how long until the headers and the whole answer. A long-poll may hold the request open
 * until it has news, so running out of --timeout is a warning, not a failure.
 */
import { DoctorError, describeError } from './errors.js';
import { timedGet } from './http-get.js';
import type { DoctorOptions } from './options.js';
import { type Check, ms, NOT_OFFERED, stepResult, transportMissing } from './report.js';

export async function probePoll(opts: DoctorOptions): Promise<Check> {
  const { path, asked } = opts.poll!;
  const done = stepResult('poll', 'Long-poll', { path, asked });
  const missing = transportMissing(done, path, asked, '--poll', 'long-poll');
  let response: Awaited<ReturnType<typeof timedGet>>;
  try {
    response = await timedGet(
      opts.target,
      path,
      { accept: 'application/json, */*', origin: opts.origin },
      opts.timeoutMs,
    );
  } catch (err) {
    if (err instanceof DoctorError && err.code === 'SL_DOCTOR_NO_HEADERS')
      return done(
        'warn',
        `${path}: held open over ${opts.timeoutMs} ms without an answer (raise --timeout above the server's hold time)`,
        {
          reachable: true,
          status: null,
          held: true,
        },
      );
    return missing(describeError(err), { reachable: false, error: describeError(err) });
  }
  const { res, headersMs, sentAt } = response;
  const status = res.statusCode ?? 0;
  let bytes = 0;
  const complete = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), opts.timeoutMs);
    res.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    res.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
    res.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const totalMs = performance.now() - sentAt;
  res.destroy();
  const data = {
    reachable: true,
    status,
    contentType: res.headers['content-type'] ?? null,
    headersMs: ms(headersMs),
    totalMs: complete ? ms(totalMs) : null,
    bytes,
    complete,
  };
  if (NOT_OFFERED.has(status) || (!asked && (status < 200 || status > 299)))
    return missing(`HTTP ${status}`, data);
  if (status < 200 || status > 299) return done('fail', `${path}: HTTP ${status}`, data);
  const timing = complete
    ? `answered in ${ms(totalMs)} ms (headers ${ms(headersMs)} ms, ${bytes} bytes)`
    : `headers in ${ms(headersMs)} ms, body still open after ${opts.timeoutMs} ms`;
  return done(complete ? 'ok' : 'warn', `HTTP ${status}, ${timing}`, data);
}
