/**
 * The protocols board: what the sidecar's decoders see inside the connections (engine.io and
 * Socket.IO, graphql-ws, Server-Sent Events by the spec, MQTT), one row per protocol, and the health
 * of decoding itself. Panels whose counters only appear with their first event (misses,
 * rejections, overflow) read 0 on a healthy system instead of "no data".
 */
import { METRICS as M } from '../../proxy/metrics/definitions.js';
import { type BoardSpec, buildBoard } from './layout.js';
import { timeseriesPanel } from './panels.js';
import { gauge, orZero, quantile, sumRate } from './promql.js';

export const PROTOCOLS_UID = 'socketlens-protocols';

const pQueries = (def: typeof M.graphqlFirstResult | typeof M.graphqlAck) =>
  [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(def, q), legend: `p${Math.round(q * 100)}` }));

/** Share of ended engine.io sessions that stayed on polling (never upgraded to WebSocket). */
export const neverUpgradedShare = `${orZero(sumRate(M.engineioSessions, { where: { transports: 'polling' } }))} / ${sumRate(M.engineioSessions)}`;

const spec = (): BoardSpec => ({
  uid: PROTOCOLS_UID,
  title: 'socketlens / Protocols',
  description:
    'What runs inside the connections: Socket.IO (engine.io) sessions and events, graphql-ws operations, SSE events against keep-alive comments, MQTT packets, and the health of decoding.',
  tags: ['protocols'],
  rows: [
    {
      title: 'Socket.IO (engine.io)',
      panels: [
        timeseriesPanel({
          title: 'engine.io sessions live',
          description:
            'Socket.IO sessions open right now, each counted once across its polling requests and its WebSocket. Not the number of HTTP connections: one session is many polls.',
          queries: [{ expr: gauge(M.engineioSessionsActive), legend: 'sessions' }],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'engine.io sessions ended, by transports used',
          description:
            'Sessions ended per second by the transports they used in order. "polling,websocket" is a normal Socket.IO session; "polling" alone means the upgrade never happened: a hop strips the Upgrade header, or clients are told to poll.',
          queries: [
            {
              expr: sumRate(M.engineioSessions, { by: ['transports'] }),
              legend: '{{transports}}',
            },
          ],
          unit: 'ops',
          span: 8,
          colors: { polling: 'red', 'polling,websocket': 'green' },
        }),
        timeseriesPanel({
          title: 'Share of engine.io sessions that never upgraded',
          description:
            'Ended sessions that stayed on polling, as a share of all ended sessions. Near 0 when WebSocket works end to end; near 1 when an edge strips the upgrade and every client falls back to polling (alert SocketlensEngineioNotUpgrading).',
          queries: [{ expr: neverUpgradedShare, legend: 'never upgraded' }],
          unit: 'percentunit',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Socket.IO events per second, by namespace and event',
          description:
            'Socket.IO packets by namespace, event name and direction (in = client to server). connect, disconnect, connect_error and __ack__ name the packets that are not events; names past --label-cap read __other__.',
          queries: [
            {
              expr: sumRate(M.socketioEvents, { by: ['namespace', 'event', 'direction'] }),
              legend: '{{namespace}} {{event}} {{direction}}',
            },
          ],
          unit: 'ops',
          span: 12,
        }),
        timeseriesPanel({
          title: 'engine.io messages per second, by transport',
          description:
            'engine.io message packets (not probes, upgrades, noops or heartbeats) by transport and direction. Messages on polling while WebSocket is offered reveal sessions stuck on the fallback.',
          queries: [
            {
              expr: sumRate(M.engineioMessages, { by: ['transport', 'direction'] }),
              legend: '{{transport}} {{direction}}',
            },
          ],
          unit: 'ops',
          span: 12,
        }),
        timeseriesPanel({
          title: 'engine.io heartbeats and misses',
          description:
            'engine.io pings and pongs per second (Socket.IO heartbeats are data packets, not WebSocket pings), and misses by the silent peer: a ping unanswered within pingTimeout (client) or no ping in time (server). Misses reveal half-open sessions.',
          queries: [
            {
              expr: sumRate(M.engineioHeartbeats, { by: ['packet', 'direction'] }),
              legend: '{{packet}} {{direction}}',
            },
            {
              expr: orZero(sumRate(M.engineioHeartbeatMisses, { by: ['peer'] })),
              legend: 'missed by {{peer}}',
            },
          ],
          unit: 'ops',
          span: 24,
          colors: { 'missed by client': 'red', 'missed by server': 'orange' },
        }),
      ],
    },
    {
      title: 'GraphQL over WebSocket (graphql-ws)',
      panels: [
        timeseriesPanel({
          title: 'GraphQL operations active',
          description:
            'Subscriptions and queries started (subscribe/start) and not yet completed, by subprotocol. A steady climb reveals operations the client never completes.',
          queries: [
            { expr: gauge(M.graphqlOperationsActive, { by: ['subprotocol'] }), legend: '{{subprotocol}}' },
          ],
          unit: 'short',
          span: 8,
        }),
        timeseriesPanel({
          title: 'GraphQL operations ended, by outcome',
          description:
            'Operations ended per second: complete (by the server), error, cancelled (by the client), connection_closed (still running when the connection ended, e.g. cut by a hop).',
          queries: [
            {
              expr: sumRate(M.graphqlOperations, { by: ['outcome', 'subprotocol'] }),
              legend: '{{outcome}} {{subprotocol}}',
            },
          ],
          unit: 'ops',
          span: 8,
          colors: { 'error graphql-transport-ws': 'red', 'connection_closed graphql-transport-ws': 'orange' },
        }),
        timeseriesPanel({
          title: 'Time to first result p50 / p95 / p99',
          description:
            'Time from a subscribe to its first next with the same id: what a user waits for the first data of a query or subscription, measured at the sidecar.',
          queries: pQueries(M.graphqlFirstResult),
          unit: 's',
          span: 8,
        }),
        timeseriesPanel({
          title: 'connection_init to connection_ack p50 / p99',
          description:
            'Time the server takes to accept a graphql-ws connection (auth in onConnect usually). A rise here delays every operation of every new client.',
          queries: pQueries(M.graphqlAck).filter((q) => q.legend !== 'p95'),
          unit: 's',
          span: 12,
        }),
        timeseriesPanel({
          title: 'graphql-ws rejections by close code',
          description:
            'Connections the server closed with a graphql-ws code: 4401 unauthorized, 4403 forbidden, 4408 no connection_init in time, 4429 too many inits, 4400 bad message. A burst of 4401 after a deploy reveals an auth change.',
          queries: [
            {
              expr: orZero(sumRate(M.graphqlRejections, { by: ['code'] })),
              legend: '{{code}}',
            },
          ],
          unit: 'ops',
          span: 12,
        }),
      ],
    },
    {
      title: 'Server-Sent Events by the spec',
      panels: [
        timeseriesPanel({
          title: 'SSE events vs keep-alive comments',
          description:
            'Events dispatched (blocks with a data field) against comment lines (": ping" keep-alives) per second. Streams open with comments flowing but events at zero: the stream is alive, the feed behind it is not.',
          queries: [
            { expr: sumRate(M.sseEventsSent), legend: 'events' },
            { expr: orZero(sumRate(M.sseComments)), legend: 'keep-alive comments' },
          ],
          unit: 'ops',
          span: 12,
          colors: { events: 'green', 'keep-alive comments': 'blue' },
        }),
        timeseriesPanel({
          title: 'SSE streams resumed (Last-Event-ID)',
          description:
            'Streams whose request carried Last-Event-ID per second: clients resuming a stream they lost. A rise reveals streams cut under them (an idle timeout, a deploy).',
          queries: [{ expr: orZero(sumRate(M.sseResumed)), legend: 'resumed' }],
          unit: 'ops',
          span: 12,
        }),
      ],
    },
    {
      title: 'Decoding',
      panels: [
        timeseriesPanel({
          title: 'Connections decoded, by protocol',
          description:
            'Connections (for engine.io: sessions) a decoder claimed per second, by protocol. Zero for a protocol you run means the decoder does not see it: check --protocols and --engineio-path.',
          queries: [{ expr: sumRate(M.protocolConnections, { by: ['protocol'] }), legend: '{{protocol}}' }],
          unit: 'ops',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Decode errors and compressed messages',
          description:
            'Messages a decoder could not parse (relayed unchanged all the same) and compressed messages it counted without reading (permessage-deflate), by protocol. Either one above zero means the protocol panels undercount.',
          queries: [
            {
              expr: orZero(sumRate(M.protocolDecodeErrors, { by: ['protocol'] })),
              legend: 'decode errors {{protocol}}',
            },
            {
              expr: orZero(sumRate(M.protocolCompressed, { by: ['protocol'] })),
              legend: 'compressed {{protocol}}',
            },
          ],
          unit: 'ops',
          span: 8,
        }),
        timeseriesPanel({
          title: 'Label values past the cap',
          description:
            'Event, namespace and other names from traffic replaced by __other__ because their label already had --label-cap distinct values. A steady rate reveals names built from ids (a user id in an event name) or a hostile client.',
          queries: [{ expr: orZero(sumRate(M.labelOverflow, { by: ['label'] })), legend: '{{label}}' }],
          unit: 'ops',
          span: 8,
        }),
      ],
    },
    {
      title: 'MQTT over WebSocket',
      panels: [
        timeseriesPanel({
          title: 'MQTT packets per second, by type and direction',
          description:
            'MQTT control packets (3.1, 3.1.1 and 5) by type and direction (in = client to broker). pingreq/pingresp are the MQTT heartbeats; publish without puback at QoS 1 reveals a broker or client that stopped acknowledging.',
          queries: [
            {
              expr: sumRate(M.mqttPackets, { by: ['type', 'direction'] }),
              legend: '{{type}} {{direction}}',
            },
          ],
          unit: 'ops',
          span: 8,
        }),
        timeseriesPanel({
          title: 'MQTT CONNACK refusals by reason',
          description:
            'Connections the broker refused in its CONNACK, by reason (bad credentials, not authorized, server unavailable, ...). A burst after a deploy reveals an auth or ACL change.',
          queries: [
            { expr: orZero(sumRate(M.mqttConnackRefusals, { by: ['reason'] })), legend: '{{reason}}' },
          ],
          unit: 'ops',
          span: 8,
        }),
        timeseriesPanel({
          title: 'MQTT keep-alive misses by silent peer',
          description:
            'A client silent for 1.5 times its keep-alive (client), or a PINGREQ the broker did not answer within the keep-alive (server). A steady rate reveals half-open connections the broker keeps as sessions.',
          queries: [
            { expr: orZero(sumRate(M.mqttKeepaliveMisses, { by: ['peer'] })), legend: 'missed by {{peer}}' },
          ],
          unit: 'ops',
          span: 8,
        }),
      ],
    },
  ],
});

export function protocolsBoard() {
  return buildBoard(spec());
}
