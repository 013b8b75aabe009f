/**
 * The overview board: every signal the sidecar exports, grouped by what an operator asks first
 * (how many are connected, can they connect, what flows, how do they end, who is falling behind).
 */
import { METRICS as M } from '../../proxy/metrics/definitions.js';
import { type BoardSpec, buildBoard } from './layout.js';
import { statPanel, timeseriesPanel } from './panels.js';
import { gauge, sumRate } from './promql.js';
import * as s from './signals.js';

export const OVERVIEW_UID = 'socketlens-overview';

const spec = (): BoardSpec => ({
  uid: OVERVIEW_UID,
  title: 'socketlens / Overview',
  description: 'What the socketlens sidecars see of WebSocket, SSE and long-poll traffic.',
  tags: ['overview'],
  rows: [
    {
      title: 'At a glance',
      panels: [
        statPanel({
          title: 'WebSocket connections',
          description:
            'WebSocket connections relayed right now, across every sidecar. A sudden drop with no drop in users points at the edge (upgrade stripped, idle cut).',
          queries: [{ expr: gauge(M.connectionsActive), legend: 'connections' }],
          unit: 'short',
        }),
        statPanel({
          title: 'SSE streams',
          description:
            'Server-Sent Events streams open right now. Growth here while WebSocket falls means clients are stepping down the fallback ladder.',
          queries: [{ expr: gauge(M.sseStreamsActive), legend: 'streams' }],
          unit: 'short',
        }),
        statPanel({
          title: 'Long-polls waiting',
          description:
            'Long-poll requests parked waiting for data. The last rung of the ladder: a rise means WebSocket and SSE both fail for some clients.',
          queries: [{ expr: gauge(M.longpollActive), legend: 'waiting' }],
          unit: 'short',
        }),
        statPanel({
          title: 'Handshake failure ratio',
          description:
            'Share of upgrade attempts that did not end in a 101. More than a few percent means clients cannot connect: see the failures-by-reason panel.',
          queries: [{ expr: s.handshakeFailureRatio, legend: 'failed' }],
          unit: 'percentunit',
        }),
      ],
    },
    {
      title: 'Connections',
      panels: [s.connectionsByTransport(), s.connectionsOpened(), s.connectionsByInstance({ span: 24 })],
    },
    {
      title: 'Handshakes',
      panels: [
        s.handshakeLatency(),
        s.handshakeFailuresByReason(),
        s.handshakeFailuresByInstance({ span: 24 }),
      ],
    },
    {
      title: 'Traffic',
      panels: [
        timeseriesPanel({
          title: 'Messages per second, in and out',
          description:
            'Complete WebSocket data messages relayed: in = client to backend, out = backend to clients. Connections that stay up while messages stop reveal half-open sockets.',
          queries: [
            { expr: sumRate(M.messagesReceived), legend: 'in (client → backend)' },
            { expr: sumRate(M.messagesSent), legend: 'out (backend → client)' },
          ],
          unit: 'mps',
        }),
        timeseriesPanel({
          title: 'Bytes per second, in and out',
          description:
            'Bytes relayed after the upgrade, frame headers included. Outbound bytes flat while send buffers grow reveals a slow consumer that cannot drain.',
          queries: [
            { expr: sumRate(M.bytesReceived), legend: 'in (client → backend)' },
            { expr: sumRate(M.bytesSent), legend: 'out (backend → client)' },
          ],
          unit: 'Bps',
        }),
      ],
    },
    {
      title: 'Closes and liveness',
      panels: [s.closesByCode(), s.heartbeatMisses()],
    },
    {
      title: 'Back-pressure',
      panels: [s.sendBuffer(), s.slowConsumerDisconnects()],
    },
    {
      title: 'Drains and rebalancing',
      panels: [
        timeseriesPanel({
          title: 'Drains and rebalancings under way',
          description:
            'Sidecars closing their connections on purpose: kind="drain" (a rollout, SIGTERM or an admin drain: readiness off, new connections refused, then closes spread over the drain window) and kind="rebalance" (an admin request closing a share of the connections so clients move to newer instances).',
          queries: [{ expr: gauge(M.drainActive, { by: ['kind'] }), legend: '{{kind}}' }],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Connections left to close',
          description:
            'Connections a running drain or rebalancing has still to close. A steady slope down to zero over the window is a staggered drain; a cliff is a drain at once.',
          queries: [{ expr: gauge(M.drainRemaining, { by: ['kind'] }), legend: '{{kind}}' }],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Closes by drains and rebalancing, per second',
          description:
            'Connections closed by a drain or a rebalancing, by pace: staggered (a window of 1 s or more) or at_once. Their clients reconnect elsewhere; at_once closes are what a reconnect storm starts from.',
          queries: [
            {
              expr: sumRate(M.drainCloses, { by: ['kind', 'pace'] }),
              legend: '{{kind}} {{pace}}',
            },
          ],
          unit: 'ops',
          span: 8,
        }),
      ],
    },
    {
      title: 'Connection lifetime',
      panels: [s.connectionDurationHeatmap({ span: 24 })],
    },
    {
      title: 'Server-Sent Events',
      panels: [
        timeseriesPanel({
          title: 'Active SSE streams',
          description:
            'Event streams open right now. Streams dropping together at a fixed period reveal an edge that times out quiet responses.',
          queries: [{ expr: gauge(M.sseStreamsActive), legend: 'streams' }],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'SSE events per second',
          description:
            'Events relayed to clients. Zero while streams stay open reveals a buffering proxy holding the body back.',
          queries: [{ expr: sumRate(M.sseEventsSent), legend: 'events' }],
          unit: 'ops',
          span: 8,
        }),
        s.sseDurationHeatmap({ span: 8 }),
      ],
    },
    {
      title: 'Long-poll',
      panels: [
        timeseriesPanel({
          title: 'Long-polls waiting',
          description:
            'Requests parked waiting for an answer. A rise means clients fell back to the last rung because WebSocket and SSE failed.',
          queries: [{ expr: gauge(M.longpollActive), legend: 'waiting' }],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Long-poll responses by status class',
          description:
            'Completed long-polls per second by status class. A rise in 5xx reveals an upstream or proxy timeout shorter than the poll wait.',
          queries: [
            { expr: sumRate(M.longpollResponses, { by: ['status_class'] }), legend: '{{status_class}}' },
          ],
          unit: 'reqps',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Long-poll wait p50 / p95 / p99',
          description:
            'How long polls waited for their answer. Waits piling up at one value reveal a proxy timeout cutting polls short.',
          queries: s.quantileQueries(M.longpollWait),
          unit: 's',
          span: 8,
        }),
      ],
    },
  ],
});

export function overviewBoard() {
  return buildBoard(spec());
}
