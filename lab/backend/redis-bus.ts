// Redis pub/sub bus shared by every backend node.
//
// Seq numbers: one Lua script does INCR on the room's counter and PUBLISH of the message with that
// seq. A script runs atomically, so publish order on the channel equals seq order even when two
// nodes publish to the same room at once (INCR then PUBLISH as two commands could interleave and
// deliver seq 5 before seq 4).
//
// A Redis restart without persistence loses the counters. Each publish therefore also carries
// the highest seq the publishing node has seen for the room, and the script never lets the
// counter fall below it: seqs keep growing across the restart, so clients that resume "after
// seq N" and drop duplicates by seq do not silently discard the new messages.

import { createClient } from 'redis';
import { type Bus, type BusDeliver, BusError } from './bus.js';

const PUBLISH_SCRIPT = `
local floor = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[1]) or '0') < floor then redis.call('SET', KEYS[1], floor) end
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], seq .. '\\n' .. ARGV[2])
return seq
`;

export interface RedisBusOptions {
  url: string;
  /** Key and channel prefix, so several labs can share one Redis. */
  prefix?: string;
  /** The highest seq this node has seen for a room (the counter's floor after a Redis restart). */
  latestSeq?: (room: string) => number;
  log?: (line: string) => void;
}

export async function createRedisBus(opts: RedisBusOptions, deliver: BusDeliver): Promise<Bus> {
  const prefix = opts.prefix ?? 'socketlens';
  const log = opts.log ?? (() => {});
  const channelPrefix = `${prefix}:room:`;
  let ready = false; // once a first connection worked, outages are retried instead of fatal

  const pub = createClient({
    url: opts.url,
    // Fail a publish at once while Redis is down instead of queueing it for later: a drill wants
    // to see the 503, and the backend must not grow an unbounded queue.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 3000,
      reconnectStrategy: (retries, cause) => (ready ? Math.min(50 * 2 ** retries, 2000) : cause),
    },
  });
  const sub = pub.duplicate();

  // A redis client without an error listener crashes the process on the first reset.
  let lastError = '';
  for (const [name, client] of [
    ['pub', pub],
    ['sub', sub],
  ] as const) {
    client.on('error', (err: Error) => {
      const line = `redis ${name} error: ${err.message}`;
      if (line !== lastError) log(line); // one line per kind of outage, not one per retry
      lastError = line;
    });
    client.on('ready', () => {
      if (ready) log(`redis ${name} reconnected`);
      lastError = '';
    });
  }

  try {
    await Promise.all([pub.connect(), sub.connect()]);
    await sub.pSubscribe(`${channelPrefix}*`, (message, channel) => {
      const nl = message.indexOf('\n');
      const seq = Number(message.slice(0, nl));
      let body: { origin: string; t: number; data: unknown };
      try {
        body = JSON.parse(message.slice(nl + 1));
      } catch {
        log(`redis bus: dropped a malformed message on ${channel}`);
        return;
      }
      deliver({
        room: channel.slice(channelPrefix.length),
        seq,
        origin: body.origin,
        t: body.t,
        data: body.data,
      });
    });
  } catch (err) {
    for (const c of [pub, sub]) if (c.isOpen) c.destroy(); // destroy() throws on a closed client
    throw new BusError(
      'SL_LAB_REDIS_CONNECT',
      `cannot connect to redis at ${opts.url}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  ready = true;

  return {
    kind: 'redis',
    async publish(room, origin, data) {
      const payload = JSON.stringify({ origin, t: Date.now(), data: data ?? null });
      try {
        const seq = await pub.eval(PUBLISH_SCRIPT, {
          keys: [`${prefix}:seq:${room}`],
          arguments: [`${channelPrefix}${room}`, payload, String(opts.latestSeq?.(room) ?? 0)],
        });
        return Number(seq);
      } catch (err) {
        throw new BusError('SL_LAB_BUS_UNAVAILABLE', `redis publish failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    // The subscriber only reports ready after it re-subscribed, so this also means "fan-out works".
    isUp: () => pub.isReady && sub.isReady,
    async close() {
      // close() waits for in-flight commands; if Redis is gone it may reject, destroy then.
      await Promise.all(
        [pub, sub].map(async (c) => {
          if (!c.isOpen) return;
          try {
            await c.close();
          } catch {
            c.destroy();
          }
        }),
      );
    },
  };
}
