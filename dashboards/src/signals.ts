/**
 * Panels that appear on more than one board, each a function so every board gets its own
 * builder (a built panel is mutated when the board positions it and numbers it).
 */
import { METRICS as M } from '../../proxy/metrics/definitions.js';
import { heatmapPanel, timeseriesPanel } from './panels.js';
import { bucketIncrease, gauge, orZero, quantile, sumRate } from './promql.js';

type Layout = { span?: number; height?: number };

/** Upgrade attempts per second: completed plus failed. */
export const handshakeAttempts = `${orZero(sumRate(M.handshakeFailures))} + ${sumRate(M.connectionsOpened)}`;

/** Failed upgrades over all upgrade attempts. */
export const handshakeFailureRatio = `${orZero(sumRate(M.handshakeFailures))} / (${handshakeAttempts})`;

export const quantileQueries = (def: typeof M.handshakeDuration | typeof M.longpollWait) =>
  [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(def, q), legend: `p${Math.round(q * 100)}` }));

export const connectionsByTransport = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Live connections by transport',
    description:
      'Live real-time connections per transport, plus the WebSocket gauge on its own. A saw-tooth reveals idle cuts at the edge; WebSocket falling while SSE and long-poll rise reveals clients stepping down the fallback ladder.',
    queries: [
      { expr: gauge(M.realtimeActive, { by: ['transport'] }), legend: '{{transport}}' },
      { expr: gauge(M.connectionsActive), legend: 'ws_connections_active' },
    ],
    unit: 'short',
    ...l,
  });

export const connectionsOpened = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'WebSocket connections opened',
    description:
      'Upgrades completed per second. Far above its usual level after a blip it reveals a reconnect storm: clients retrying together, without jitter.',
    queries: [{ expr: sumRate(M.connectionsOpened), legend: 'opened' }],
    unit: 'cps',
    ...l,
  });

export const handshakeLatency = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Handshake latency p50 / p95 / p99',
    description:
      'Time from the upgrade request to the 101, by quantile. A climbing p99 reveals a saturated backend (often during a reconnect storm) or a slow hop in front of it.',
    queries: quantileQueries(M.handshakeDuration),
    unit: 'ms',
    ...l,
  });

export const handshakeFailuresByReason = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Handshake failures by reason',
    description:
      'Upgrade requests that did not end in a 101, by reason (and status class for upstream rejections). upgrade_stripped reveals a proxy dropping the Upgrade/Connection headers; auth/origin a rejected upgrade.',
    queries: [
      {
        expr: sumRate(M.handshakeFailures, { by: ['reason', 'status_class'] }),
        legend: '{{reason}} {{status_class}}',
      },
    ],
    unit: 'reqps',
    ...l,
  });

export const closesByCode = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Closes by code',
    description:
      'Closed connections per second by close code. 1006 (red) means TCP ended without a close frame: an edge idle cut, a dead NAT flow or a crash, never a clean shutdown.',
    queries: [{ expr: sumRate(M.closes, { by: ['code'] }), legend: '{{code}}' }],
    unit: 'cps',
    colors: { '1006': 'red' },
    ...l,
  });

export const heartbeatMisses = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Heartbeat misses by silent peer',
    description:
      'Pings not answered by a pong in time, by the peer that stayed silent. A steady rate reveals half-open (zombie) sockets that look connected but carry nothing.',
    queries: [{ expr: sumRate(M.heartbeatMisses, { by: ['peer'] }), legend: '{{peer}}' }],
    unit: 'cps',
    ...l,
  });

export const sendBuffer = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Send buffer (largest socket and total)',
    description:
      'Bytes queued in the sidecar toward clients: the largest single socket and the sum over all. A largest-socket line that keeps climbing reveals a slow consumer; the total is the memory at stake.',
    queries: [
      { expr: gauge(M.sendBuffer, { agg: 'max', where: { stat: 'max' } }), legend: 'largest socket' },
      { expr: gauge(M.sendBuffer, { where: { stat: 'sum' } }), legend: 'all sockets' },
    ],
    unit: 'bytes',
    ...l,
  });

export const slowConsumerDisconnects = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Slow-consumer disconnects',
    description:
      'Clients cut because their send buffer stayed over the limit past the grace period. Non-zero confirms slow consumers are being shed rather than eating memory.',
    queries: [{ expr: sumRate(M.slowConsumerDisconnects), legend: 'disconnects' }],
    unit: 'cps',
    ...l,
  });

export const connectionDurationHeatmap = (l: Layout = {}) =>
  heatmapPanel({
    title: 'WebSocket connection duration',
    description:
      'How long closed WebSocket connections lived, per lifetime bucket. A bright horizontal band at one age (e.g. 60 s) reveals an idle timeout at a proxy or load balancer.',
    queries: [{ expr: bucketIncrease(M.connectionDuration), legend: '{{le}}' }],
    unit: 's',
    ...l,
  });

export const sseDurationHeatmap = (l: Layout = {}) =>
  heatmapPanel({
    title: 'SSE stream duration',
    description:
      'How long ended Server-Sent Events streams lived. A band at one age reveals the same idle cut that hits WebSocket.',
    queries: [{ expr: bucketIncrease(M.sseStreamDuration), legend: '{{le}}' }],
    unit: 's',
    ...l,
  });

/** Per sidecar: where the connections are, so one overloaded or emptied instance stands out. */
export const connectionsByInstance = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Live connections per instance',
    description:
      'Live real-time connections (every transport) on each selected sidecar, labelled job/instance. One instance dropping to zero while the others hold reveals a bad node or a hop in front of it; one far above the rest reveals unbalanced routing or sticky sessions.',
    queries: [{ expr: gauge(M.realtimeActive, { by: ['job', 'instance'] }), legend: '{{job}} {{instance}}' }],
    unit: 'short',
    ...l,
  });

/** Per sidecar: failed upgrades, so a failure confined to one instance or service is visible. */
export const handshakeFailuresByInstance = (l: Layout = {}) =>
  timeseriesPanel({
    title: 'Handshake failures per instance',
    description:
      'Failed upgrades per second on each selected sidecar. Failures on one instance only point at its node or its own hop; failures everywhere at the shared edge or the backend.',
    queries: [
      { expr: sumRate(M.handshakeFailures, { by: ['job', 'instance'] }), legend: '{{job}} {{instance}}' },
    ],
    unit: 'reqps',
    ...l,
  });
