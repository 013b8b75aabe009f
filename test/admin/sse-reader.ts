/** A minimal Server-Sent Events reader for the admin server's /live stream, for tests. */
import http from 'node:http';
import type { LiveSnapshot } from '../../proxy/admin/live-snapshot.js';

export interface LiveReader {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every snapshot received so far, in order. */
  snapshots: LiveSnapshot[];
  /** Resolves with the first snapshot (already received or future) that matches. */
  waitFor(pred: (s: LiveSnapshot) => boolean, timeoutMs?: number, what?: string): Promise<LiveSnapshot>;
  close(): void;
}

export function readLive(url: string): Promise<LiveReader> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const snapshots: LiveSnapshot[] = [];
      const waiters = new Set<() => void>();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end = buf.indexOf('\n\n');
        while (end !== -1) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data && !event.startsWith('event:')) snapshots.push(JSON.parse(data) as LiveSnapshot);
          end = buf.indexOf('\n\n');
        }
        for (const w of [...waiters]) w();
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        snapshots,
        waitFor(pred, timeoutMs = 5000, what = 'snapshot') {
          return new Promise((ok, fail) => {
            let seen = 0;
            const check = () => {
              for (; seen < snapshots.length; seen++) {
                if (pred(snapshots[seen]!)) {
                  clearTimeout(timer);
                  waiters.delete(check);
                  ok(snapshots[seen]!);
                  return;
                }
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out waiting for ${what}; last: ${JSON.stringify(snapshots.at(-1))}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
