/**
 * GET /live on the admin server: Server-Sent Events carrying one JSON snapshot (live-snapshot.ts)
 * per interval. One shared, unref'd timer runs only while at least one viewer is connected; every
 * viewer gets the same snapshot, and a viewer who joins gets the latest one at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SidecarContext } from '../context.js';
import { LiveSnapshotter } from './live-snapshot.js';

export const LIVE_INTERVAL_MS = 1000;
/** A viewer that lets this much pile up unread is dropped rather than buffered without bound. */
const MAX_VIEWER_BACKLOG = 1024 * 1024;

export interface LiveEvents {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Viewers currently connected. */
  readonly viewers: number;
  /** True while the snapshot timer runs. */
  readonly running: boolean;
  /** Ends every stream and stops the timer. */
  close(): void;
}

export function createLiveEvents(ctx: SidecarContext, opts: { intervalMs?: number } = {}): LiveEvents {
  const intervalMs = opts.intervalMs ?? LIVE_INTERVAL_MS;
  const snapshotter = new LiveSnapshotter(ctx);
  const viewers = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let latest: string | null = null;
  let busy = false;

  const write = (res: ServerResponse, event: string) => {
    if (res.writableLength > MAX_VIEWER_BACKLOG) res.destroy();
    else res.write(event);
  };

  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const snap = await snapshotter.next();
      if (!timer) return; // everyone left while the snapshot was being built
      latest = `data: ${JSON.stringify(snap)}\n\n`;
      for (const res of viewers) write(res, latest);
    } catch (err) {
      const event = `event: failure\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`;
      for (const res of viewers) write(res, event);
    } finally {
      busy = false;
    }
  };

  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
    latest = null;
    snapshotter.reset();
  };

  const remove = (res: ServerResponse) => {
    if (viewers.delete(res) && viewers.size === 0) stop();
  };

  return {
    handle(req, res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.write(`retry: ${Math.max(1000, intervalMs * 2)}\n\n`);
      viewers.add(res);
      res.once('close', () => remove(res));
      if (!timer) {
        timer = setInterval(() => void tick(), intervalMs);
        timer.unref();
        void tick();
      } else if (latest) {
        write(res, latest);
      }
    },
    get viewers() {
      return viewers.size;
    },
    get running() {
      return timer !== null;
    },
    close() {
      for (const res of [...viewers]) res.destroy();
      viewers.clear();
      stop();
    },
  };
}
