/**
 * Step 4: the Server-Sent Events path. Reachable? text/event-stream? How long until the
 * headers and the first event? And, from the events' arrival times, does a hop buffer it?
 */
import { DoctorError, describeError } from './errors.js';
import { timedGet } from './http-get.js';
import type { DoctorOptions } from './options.js';
import { type Check, ms, NOT_OFFERED, stepResult, transportMissing } from './report.js';
import { judgeBuffering } from './sse-timing.js';

/** Each blank line ends an event (or a comment block); CRLF and CR line ends are allowed too. */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/g;

export async function probeSse(opts: DoctorOptions): Promise<Check> {
  const { path, asked } = opts.sse!;
  const done = stepResult('sse', 'SSE', { path, asked });
  const missing = transportMissing(done, path, asked, '--sse', 'SSE');
  let response: Awaited<ReturnType<typeof timedGet>>;
  try {
    response = await timedGet(
      opts.target,
      path,
      { accept: 'text/event-stream', 'cache-control': 'no-cache', origin: opts.origin },
      opts.timeoutMs,
    );
  } catch (err) {
    if (err instanceof DoctorError && err.code === 'SL_DOCTOR_NO_HEADERS')
      // nginx buffering an endless stream holds even the headers back, so this is a symptom too.
      return done(
        asked ? 'fail' : 'warn',
        `${path}: no response headers within ${opts.timeoutMs} ms (a buffering hop holds them back with the first events, or the server is slow)`,
        { reachable: true, status: null, events: 0, buffered: null, error: describeError(err) },
      );
    return missing(describeError(err), { reachable: false, error: describeError(err) });
  }
  const { res, headersMs } = response;
  const status = res.statusCode ?? 0;
  const contentType = res.headers['content-type'] ?? null;
  const base = {
    reachable: true,
    status,
    contentType,
    headersMs: ms(headersMs),
    xAccelBuffering: res.headers['x-accel-buffering'] ?? null,
    contentEncoding: res.headers['content-encoding'] ?? null,
  };
  if (NOT_OFFERED.has(status) || (!asked && (status < 200 || status > 299))) {
    res.destroy();
    return missing(`HTTP ${status}`, base);
  }
  if (status < 200 || status > 299) {
    res.destroy();
    return done('fail', `${path}: HTTP ${status}, not 200`, base);
  }
  if (!contentType || !/^text\/event-stream\b/i.test(contentType)) {
    res.destroy();
    if (!asked) return missing(`it answers ${contentType ?? 'no content-type'}, not an event stream`, base);
    return done(
      'fail',
      `${path}: content-type ${contentType ?? '(none)'}, not text/event-stream (EventSource refuses it)`,
      base,
    );
  }

  // Watch the stream for --sse-window, noting when each event arrives (ms after the request:
  // a buffering hop may hold the headers back together with the events).
  const { sentAt } = response;
  const arrivals: number[] = [];
  let pending = '';
  let bytes = 0;
  const ended = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), opts.sseWindowMs);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const at = performance.now() - sentAt;
      bytes += Buffer.byteLength(chunk);
      pending += chunk;
      const parts = pending.split(EVENT_END);
      pending = parts.pop() ?? '';
      for (let i = 0; i < parts.length; i++) arrivals.push(at);
    });
    const finish = () => {
      clearTimeout(timer);
      resolve(true);
    };
    res.once('end', finish);
    res.once('error', finish);
  });
  res.destroy();
  const judgement = judgeBuffering({ arrivals, ended });
  const data = {
    ...base,
    firstEventMs: arrivals.length ? ms(arrivals[0]) : null,
    events: arrivals.length,
    bytes,
    arrivalsMs: arrivals.map(ms),
    bursts: judgement.bursts,
    ended,
    watchedMs: opts.sseWindowMs,
    buffered: judgement.buffered,
    bufferingReason: judgement.reason,
  };
  const timing = `headers ${ms(headersMs)} ms, ${
    arrivals.length ? `first event ${ms(arrivals[0])} ms` : `no event in ${opts.sseWindowMs} ms`
  }`;
  if (judgement.buffered === true) return done('fail', `${timing}; buffered: ${judgement.reason}`, data);
  if (judgement.buffered === false) return done('ok', `${timing}; not buffered (${judgement.reason})`, data);
  return done('warn', `${timing}; buffering unknown: ${judgement.reason}`, data);
}
