/**
 * The data of the live page: one JSON snapshot of the sidecar, read through the metrics registry
 * (names from the contract in definitions.ts) and the connection table. Rates are derived by
 * differencing counter totals between consecutive snapshots of the same snapshotter.
 */
import type { ConnectionSnapshot } from '../connections/live.js';
import type { SidecarContext } from '../context.js';
import { METRICS, type MetricDefinition } from '../metrics/definitions.js';

/** How many connections the "slowest consumers" list holds. */
export const SLOWEST_COUNT = 10;
/** At most this many live connections are listed (the newest); `connections_total` has the count. */
export const CONNECTIONS_LISTED = 200;

/** Counter totals that the live page turns into per-interval deltas and per-second rates. */
export interface LiveCounters {
  handshakes: number;
  handshake_failures: number;
  messages_in: number;
  messages_out: number;
  bytes_in: number;
  bytes_out: number;
  closes: number;
  heartbeat_misses: number;
  slow_consumer_disconnects: number;
}

export interface LiveSnapshot {
  /** Epoch milliseconds. */
  ts: number;
  /** Milliseconds since the previous snapshot; null for the first one. */
  interval_ms: number | null;
  active: { websocket: number; sse: number; longpoll: number };
  totals: LiveCounters;
  /** What each counter gained since the previous snapshot; null for the first one. */
  deltas: LiveCounters | null;
  /** deltas per second; null for the first snapshot. */
  rates: LiveCounters | null;
  /** Closed WebSockets by "code/initiator" (only series above 0), e.g. {"1000/client": 1}. */
  closes: Record<string, number>;
  /** Heartbeat misses by silent peer (only series above 0). */
  heartbeat_misses: Record<string, number>;
  send_buffer: { max: number; sum: number };
  /** Top live connections by bytes queued toward the client, largest first. */
  slowest: ConnectionSnapshot[];
  /** The newest live connections first, at most CONNECTIONS_LISTED. */
  connections: ConnectionSnapshot[];
  connections_total: number;
}

const COUNTERS: Record<keyof LiveCounters, MetricDefinition> = {
  handshakes: METRICS.connectionsOpened,
  handshake_failures: METRICS.handshakeFailures,
  messages_in: METRICS.messagesReceived,
  messages_out: METRICS.messagesSent,
  bytes_in: METRICS.bytesReceived,
  bytes_out: METRICS.bytesSent,
  closes: METRICS.closes,
  heartbeat_misses: METRICS.heartbeatMisses,
  slow_consumer_disconnects: METRICS.slowConsumerDisconnects,
};
const COUNTER_KEYS = Object.keys(COUNTERS) as Array<keyof LiveCounters>;

/** Values of a labelled metric by the given labels joined with "/", leaving out zero series. */
async function byLabels(ctx: SidecarContext, def: MetricDefinition, labels: readonly string[]) {
  const metric = ctx.metrics.registry.getSingleMetric(def.name);
  if (!metric) throw new Error(`no metric named ${def.name}`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    if (v.value <= 0) continue;
    const l = v.labels as Record<string, string | number | undefined>;
    const key = labels.map((n) => String(l[n] ?? '')).join('/');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export class LiveSnapshotter {
  private prev: { at: number; totals: LiveCounters } | null = null;

  constructor(private readonly ctx: SidecarContext) {}

  /** Forget the previous snapshot: the next one starts a new series (no rates). */
  reset(): void {
    this.prev = null;
  }

  async next(): Promise<LiveSnapshot> {
    const { metrics, table } = this.ctx;
    const at = performance.now();
    const ts = Date.now();

    const totals = {} as LiveCounters;
    for (const k of COUNTER_KEYS) totals[k] = await metrics.value(COUNTERS[k].name);
    const active = {
      websocket: await metrics.value(METRICS.realtimeActive.name, { transport: 'websocket' }),
      sse: await metrics.value(METRICS.realtimeActive.name, { transport: 'sse' }),
      longpoll: await metrics.value(METRICS.realtimeActive.name, { transport: 'longpoll' }),
    };
    const send_buffer = {
      max: await metrics.value(METRICS.sendBuffer.name, { stat: 'max' }),
      sum: await metrics.value(METRICS.sendBuffer.name, { stat: 'sum' }),
    };
    const closes = await byLabels(this.ctx, METRICS.closes, METRICS.closes.labels);
    const heartbeat_misses = await byLabels(
      this.ctx,
      METRICS.heartbeatMisses,
      METRICS.heartbeatMisses.labels,
    );

    let interval_ms: number | null = null;
    let deltas: LiveCounters | null = null;
    let rates: LiveCounters | null = null;
    if (this.prev) {
      interval_ms = Math.max(1, Math.round(at - this.prev.at));
      deltas = {} as LiveCounters;
      rates = {} as LiveCounters;
      for (const k of COUNTER_KEYS) {
        // Counters only go up; a reset registry must not show negative rates.
        deltas[k] = Math.max(0, totals[k] - this.prev.totals[k]);
        rates[k] = round3((deltas[k] * 1000) / interval_ms);
      }
    }
    this.prev = { at, totals };

    const all = table.snapshot(ts);
    const slowest = [...all]
      .sort((a, b) => b.buffered_bytes - a.buffered_bytes || b.age_ms - a.age_ms)
      .slice(0, SLOWEST_COUNT);
    const connections = all
      .sort((a, b) => a.age_ms - b.age_ms || (a.id < b.id ? -1 : 1))
      .slice(0, CONNECTIONS_LISTED);

    return {
      ts,
      interval_ms,
      active,
      totals,
      deltas,
      rates,
      closes,
      heartbeat_misses,
      send_buffer,
      slowest,
      connections,
      connections_total: all.length,
    };
  }
}
