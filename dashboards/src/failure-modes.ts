/**
 * The failure-modes board: one row per failure mode of the operations guide, each holding the
 * tell-tale signals of that failure, plus a row for handshake health. Row titles are the mode
 * titles of FAILURE_MODES, and the record below is keyed by FailureMode, so adding a mode to
 * the contract fails the build until it has a row here.
 */
import { FAILURE_MODES, type FailureMode, METRICS as M } from '../../proxy/metrics/definitions.js';
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { type BoardSpec, buildBoard, type Row } from './layout.js';
import { timeseriesPanel } from './panels.js';
import { gauge, orZero, sumRate } from './promql.js';
import * as s from './signals.js';

export const FAILURE_MODES_UID = 'socketlens-failure-modes';
export const HANDSHAKE_ROW_TITLE = 'Handshake health';

const third = { span: 8 };

const stripped = { reason: 'upgrade_stripped' } as const;

const panelsByMode = (): Record<FailureMode, Builder<Panel>[]> => ({
  upgrade_stripped: [
    timeseriesPanel({
      title: 'Upgrades stripped per second',
      description:
        'Requests that carried a WebSocket key but reached the sidecar without the Upgrade/Connection pair. Any non-zero value means a hop in front is not forwarding the upgrade.',
      queries: [{ expr: sumRate(M.handshakeFailures, { where: stripped }), legend: 'stripped' }],
      unit: 'reqps',
      ...third,
    }),
    timeseriesPanel({
      title: 'Share of upgrade attempts stripped',
      description:
        'Stripped upgrades over all upgrade attempts. Near 100% means every client goes through the faulty hop; a fraction points at one route or one proxy of a pool.',
      queries: [
        {
          expr: `${orZero(sumRate(M.handshakeFailures, { where: stripped }))} / (${s.handshakeAttempts})`,
          legend: 'stripped share',
        },
      ],
      unit: 'percentunit',
      ...third,
    }),
    s.connectionsByTransport(third),
  ],
  zombie: [
    s.heartbeatMisses(third),
    timeseriesPanel({
      title: 'Pings and pongs by direction',
      description:
        'Application ping and pong frames seen in each direction. Pings that keep flowing while pongs stop reveal a peer that is gone but whose socket is still open.',
      queries: [
        { expr: sumRate(M.pings, { by: ['direction'] }), legend: 'ping {{direction}}' },
        { expr: sumRate(M.pongs, { by: ['direction'] }), legend: 'pong {{direction}}' },
      ],
      unit: 'ops',
      ...third,
    }),
    timeseriesPanel({
      title: 'Messages per live connection',
      description:
        'Messages relayed per second divided by live WebSocket connections. Connections holding steady while this falls toward zero reveals sockets that are open but silent: zombies.',
      queries: [
        {
          expr: `(${sumRate(M.messagesSent)} + ${sumRate(M.messagesReceived)}) / ${gauge(M.connectionsActive)}`,
          legend: 'messages/s per connection',
        },
      ],
      unit: 'mps',
      ...third,
    }),
  ],
  idle_timeout: [
    s.connectionDurationHeatmap(),
    timeseriesPanel({
      title: 'Abnormal closes (1006) against all closes',
      description:
        'Closes without a close frame next to all closes. An edge that cuts quiet sockets ends TCP without a frame, so an idle cut shows as 1006 closes arriving in waves.',
      queries: [
        { expr: sumRate(M.closes, { where: { code: '1006' } }), legend: '1006' },
        { expr: sumRate(M.closes), legend: 'all closes' },
      ],
      unit: 'cps',
      colors: { '1006': 'red' },
    }),
    s.sseDurationHeatmap(),
    timeseriesPanel({
      title: 'Closes by initiator',
      description:
        'Who ended each connection: client, server or the sidecar itself. An idle cut at the edge is seen by the sidecar as the client side going away.',
      queries: [{ expr: sumRate(M.closes, { by: ['initiator'] }), legend: '{{initiator}}' }],
      unit: 'cps',
    }),
  ],
  reconnect_storm: [
    timeseriesPanel({
      title: 'Upgrade attempts against their 30-minute baseline',
      description:
        'Upgrade attempts per second (completed plus failed) next to their average over the last 30 minutes. A burst several times the baseline right after a blip reveals a reconnect storm.',
      queries: [
        { expr: s.handshakeAttempts, legend: 'attempts' },
        {
          expr: `avg_over_time((${s.handshakeAttempts})[30m:])`,
          legend: 'baseline (30m average)',
        },
      ],
      unit: 'reqps',
      ...third,
    }),
    s.handshakeLatency(third),
    s.closesByCode(third),
  ],
  slow_consumer: [
    s.sendBuffer(third),
    s.slowConsumerDisconnects(third),
    timeseriesPanel({
      title: 'Bytes out per second',
      description:
        'Bytes relayed toward clients. Outbound throughput flat or falling while the send buffer climbs means clients drain slower than the backend produces.',
      queries: [{ expr: sumRate(M.bytesSent), legend: 'out (backend → client)' }],
      unit: 'Bps',
      ...third,
    }),
  ],
});

const spec = (): BoardSpec => {
  const byMode = panelsByMode();
  const modeRows: Row[] = (Object.keys(FAILURE_MODES) as FailureMode[]).map((mode) => ({
    title: FAILURE_MODES[mode],
    panels: byMode[mode],
  }));
  return {
    uid: FAILURE_MODES_UID,
    title: 'socketlens / Failure modes',
    description: 'One row per real-time failure mode, each with the signals that give it away.',
    tags: ['failure-modes'],
    rows: [
      ...modeRows,
      {
        title: HANDSHAKE_ROW_TITLE,
        panels: [
          s.handshakeLatency(third),
          s.handshakeFailuresByReason(third),
          timeseriesPanel({
            title: 'Handshake failure ratio',
            description:
              'Share of upgrade attempts that did not end in a 101. A high ratio with one dominant reason points at the hop that rejects (auth, origin, rate limit, upstream down).',
            queries: [{ expr: s.handshakeFailureRatio, legend: 'failed' }],
            unit: 'percentunit',
            ...third,
          }),
        ],
      },
    ],
  };
};

export function failureModesBoard() {
  return buildBoard(spec());
}
