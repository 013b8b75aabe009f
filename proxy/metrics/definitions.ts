/**
 * The metric contract of socketlens: every metric name, its type, help text and labels.
 *
 * This module is the single source of truth. The registry (registry.ts) builds prom-client
 * metrics from it, and the dashboards, the alert rules and the README are checked against it
 * by tests. It imports nothing, so tools can load it without starting a proxy.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds. */
  readonly buckets?: readonly number[];
  /** Which failure mode of the operations guide this metric reveals, if any. */
  readonly reveals?: FailureMode;
  /**
   * Histograms: each bucket keeps the trace id (`trace_id`) of its latest observation as an
   * OpenMetrics exemplar, served when the scraper asks for OpenMetrics.
   */
  readonly exemplars?: boolean;
}

/** The failure modes of the operations guide, by short id. */
export const FAILURE_MODES = {
  upgrade_stripped: 'Upgrade stripped at a proxy',
  zombie: 'Half-open / zombie socket',
  idle_timeout: 'Idle disconnect at the edge',
  reconnect_storm: 'Reconnect storm',
  slow_consumer: 'Slow-consumer back-pressure',
} as const;
export type FailureMode = keyof typeof FAILURE_MODES;

/** Handshake failure reasons (label `reason` of ws_handshake_failures_total). */
export const HANDSHAKE_FAILURE_REASONS = [
  'upstream_unavailable',
  'upstream_rejected',
  'timeout',
  'client_aborted',
  'upgrade_stripped',
  'bad_request',
  'auth',
  'origin',
  'rate_limited',
  'fault',
  'internal',
  'resource_exhausted',
  'draining',
] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/**
 * Where the sidecar ran out of its own resources (label `where` of
 * socketlens_resource_exhaustion_total): opening the backend socket of an upgrade or of a plain
 * request, or accepting a client connection.
 */
export const EXHAUSTION_PLACES = ['upgrade', 'http', 'accept'] as const;
export type ExhaustionPlace = (typeof EXHAUSTION_PLACES)[number];
/** The errno codes that mean the sidecar itself is out of resources (label `code`). */
export const EXHAUSTION_CODES = ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM'] as const;

/** Who closed a connection (label `initiator` of ws_close_total). */
export const CLOSE_INITIATORS = ['client', 'server', 'proxy'] as const;
export type CloseInitiator = (typeof CLOSE_INITIATORS)[number];

/** The transports socketlens tells apart (label `transport`). */
export const TRANSPORTS = ['websocket', 'sse', 'longpoll', 'http'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** What closes connections on purpose (label `kind` of the drain metrics). */
export const DRAIN_KINDS = ['drain', 'rebalance'] as const;
/** Label `pace` of socketlens_drain_closes_total: a window of at least 1 s is staggered. */
export const DRAIN_PACES = ['staggered', 'at_once'] as const;

/** Direction of relayed bytes and frames (label `direction`). */
export const DIRECTIONS = ['client_to_server', 'server_to_client'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** The protocols the sidecar decodes inside connections (label `protocol`). */
export const PROTOCOLS = ['engineio', 'graphql-transport-ws', 'graphql-ws', 'mqtt', 'sse'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * How an engine.io session ended (label `reason` of engineio_sessions_total), in engine.io's own
 * words: "transport close" (the client closed), "forced close" (the server closed), "ping timeout",
 * "transport error" (the transport broke: a WebSocket 1006, a poll refused by the server).
 */
export const ENGINEIO_END_REASONS = [
  'transport close',
  'forced close',
  'ping timeout',
  'transport error',
] as const;
export type EngineioEndReason = (typeof ENGINEIO_END_REASONS)[number];

/**
 * Why a connection ended, as the close log's `reason` and the span's close reason: a closed set,
 * decided once per connection. What varies (an errno, a status, a check's message) goes in the
 * separate `detail` field. A failed upgrade ends with its handshake failure reason.
 */
export const CLOSE_REASONS = [
  'client_close',
  'server_close',
  'client_disconnect',
  'server_disconnect',
  'client_error',
  'server_error',
  'shutdown',
  'heartbeat_timeout',
  'slow_consumer',
  'max_connection_age',
  'server_end',
  'fault_close',
  'fault_cut',
  'fault_truncate',
  ...HANDSHAKE_FAILURE_REASONS,
  // An engine.io session ends with engine.io's own reason (its log line covers every transport).
  ...ENGINEIO_END_REASONS,
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** The transports an engine.io session used, in order (label `transports`). */
export const ENGINEIO_TRANSPORT_PATHS = ['polling', 'polling,websocket', 'websocket'] as const;

/** Outcomes of a graphql-ws operation (label `outcome` of graphql_ws_operations_total). */
export const GRAPHQL_OUTCOMES = ['complete', 'error', 'cancelled', 'connection_closed'] as const;
export type GraphqlOutcome = (typeof GRAPHQL_OUTCOMES)[number];

/** The two graphql-ws subprotocols (label `subprotocol`). */
export const GRAPHQL_SUBPROTOCOLS = ['graphql-transport-ws', 'graphql-ws'] as const;

/** graphql-ws close codes that reject a connection (label `code` of graphql_ws_rejections_total); others are "other". */
export const GRAPHQL_REJECT_CODES = [
  '4400',
  '4401',
  '4403',
  '4406',
  '4408',
  '4409',
  '4429',
  '4500',
  '4504',
] as const;

/** MQTT control packet types, in type-number order 1..15 (label `type` of mqtt_packets_total). */
export const MQTT_PACKET_TYPES = [
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const;
export type MqttPacketType = (typeof MQTT_PACKET_TYPES)[number];

/**
 * Why a broker refused a connection (label `reason` of mqtt_connack_refusals_total): the MQTT 5
 * CONNACK reason names; the MQTT 3.1/3.1.1 return codes 1-5 map to the first five. A code
 * outside the specification is "other".
 */
export const MQTT_REFUSAL_REASONS = [
  'unsupported_protocol_version',
  'client_identifier_not_valid',
  'server_unavailable',
  'bad_user_name_or_password',
  'not_authorized',
  'unspecified_error',
  'malformed_packet',
  'protocol_error',
  'implementation_specific_error',
  'server_busy',
  'banned',
  'bad_authentication_method',
  'topic_name_invalid',
  'packet_too_large',
  'quota_exceeded',
  'payload_format_invalid',
  'retain_not_supported',
  'qos_not_supported',
  'use_another_server',
  'server_moved',
  'connection_rate_exceeded',
  'other',
] as const;
export type MqttRefusalReason = (typeof MQTT_REFUSAL_REASONS)[number];

/** Reserved `event` values of socketio_events_total for packets that are not named events. */
export const SOCKETIO_PACKET_EVENTS = {
  connect: 'connect',
  disconnect: 'disconnect',
  connectError: 'connect_error',
  ack: '__ack__',
} as const;

const HANDSHAKE_MS_BUCKETS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;
/** Message-size buckets (bytes): 64 B to 16 MiB by powers of four. */
export const MESSAGE_SIZE_BUCKETS = [
  64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
] as const;
const DURATION_S_BUCKETS = [
  0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600, 7200, 21600, 86400,
] as const;

/** The sampling interval of the nodejs_eventloop_lag_* gauges, which each of their values includes. */
export const EVENT_LOOP_SAMPLE_MS = 10;

export const METRICS = {
  connectionsActive: {
    name: 'ws_connections_active',
    type: 'gauge',
    help: 'WebSocket connections currently relayed (from the 101 until both sides are closed).',
    labels: [],
  },
  connectionsOpened: {
    name: 'ws_connections_opened_total',
    type: 'counter',
    help: 'WebSocket connections that completed the upgrade (101 sent to the client).',
    labels: [],
    reveals: 'reconnect_storm',
  },
  handshakeDuration: {
    name: 'ws_handshake_duration_ms',
    type: 'histogram',
    help: 'Time from the upgrade request received to the 101 sent to the client, in milliseconds.',
    labels: [],
    buckets: HANDSHAKE_MS_BUCKETS,
    reveals: 'reconnect_storm',
    exemplars: true,
  },
  handshakeFailures: {
    name: 'ws_handshake_failures_total',
    type: 'counter',
    help: 'Upgrade requests that did not end in a 101, by reason; status_class is set for upstream_rejected.',
    labels: ['reason', 'status_class'],
    reveals: 'upgrade_stripped',
  },
  messagesSent: {
    name: 'ws_messages_sent_total',
    type: 'counter',
    help: 'Complete WebSocket data messages relayed from the backend to clients (fragments count once).',
    labels: [],
  },
  messagesReceived: {
    name: 'ws_messages_received_total',
    type: 'counter',
    help: 'Complete WebSocket data messages relayed from clients to the backend (fragments count once).',
    labels: [],
  },
  bytesSent: {
    name: 'ws_bytes_sent_total',
    type: 'counter',
    help: 'Bytes relayed from the backend to clients after the upgrade, frame headers included.',
    labels: [],
  },
  bytesReceived: {
    name: 'ws_bytes_received_total',
    type: 'counter',
    help: 'Bytes relayed from clients to the backend after the upgrade, frame headers included.',
    labels: [],
  },
  pings: {
    name: 'ws_pings_total',
    type: 'counter',
    help: 'Ping frames seen on relayed connections, by direction (sidecar heartbeat pings are not counted).',
    labels: ['direction'],
  },
  pongs: {
    name: 'ws_pongs_total',
    type: 'counter',
    help: 'Pong frames seen on relayed connections, by direction (pongs to sidecar heartbeats are not counted).',
    labels: ['direction'],
  },
  sendBuffer: {
    name: 'ws_send_buffer_bytes',
    type: 'gauge',
    help: 'Bytes queued in the sidecar toward clients (per-socket bufferedAmount): stat="max" is the largest socket, stat="sum" the total.',
    labels: ['stat'],
    reveals: 'slow_consumer',
  },
  slowConsumerDisconnects: {
    name: 'ws_slow_consumer_disconnects_total',
    type: 'counter',
    help: 'Clients disconnected because their send buffer stayed above the limit for longer than the grace period.',
    labels: [],
    reveals: 'slow_consumer',
  },
  closes: {
    name: 'ws_close_total',
    type: 'counter',
    help: 'Closed WebSocket connections by close code (1006 when TCP ended without a close frame) and initiator.',
    labels: ['code', 'initiator'],
    reveals: 'idle_timeout',
  },
  connectionDuration: {
    name: 'ws_connection_duration_seconds',
    type: 'histogram',
    help: 'Lifetime of closed WebSocket connections, from the 101 to the close, in seconds.',
    labels: [],
    buckets: DURATION_S_BUCKETS,
    reveals: 'idle_timeout',
    exemplars: true,
  },
  heartbeatMisses: {
    name: 'ws_heartbeat_misses_total',
    type: 'counter',
    help: 'Pings (from either end or from the sidecar) not answered by a pong within the heartbeat timeout, by the silent peer.',
    labels: ['peer'],
    reveals: 'zombie',
  },
  protocolErrors: {
    name: 'ws_protocol_errors_total',
    type: 'counter',
    help: 'Streams the frame scanner stopped parsing because they broke RFC 6455; their bytes were still relayed unchanged.',
    labels: ['direction'],
  },
  messageSize: {
    name: 'ws_message_size_bytes',
    type: 'histogram',
    help: 'Payload size of each WebSocket data message relayed (all frames of a fragmented message together), by direction.',
    labels: ['direction'],
    buckets: MESSAGE_SIZE_BUCKETS,
  },
  protocolConnections: {
    name: 'socketlens_protocol_connections_total',
    type: 'counter',
    help: 'Connections (for engine.io: sessions) a protocol decoder claimed, by protocol.',
    labels: ['protocol'],
  },
  protocolDecodeErrors: {
    name: 'socketlens_protocol_decode_errors_total',
    type: 'counter',
    help: 'Messages a protocol decoder could not parse (relayed unchanged all the same), by protocol and direction.',
    labels: ['protocol', 'direction'],
  },
  protocolCompressed: {
    name: 'socketlens_protocol_compressed_messages_total',
    type: 'counter',
    help: 'Messages sent compressed (permessage-deflate, RSV1 set) that the decoder counted but did not read, by protocol and direction.',
    labels: ['protocol', 'direction'],
  },
  labelOverflow: {
    name: 'socketlens_label_overflow_total',
    type: 'counter',
    help: 'Label values from traffic that were replaced by __other__ because their label already had --label-cap distinct values, by label.',
    labels: ['label'],
  },
  engineioSessionsActive: {
    name: 'engineio_sessions_active',
    type: 'gauge',
    help: 'Live engine.io (Socket.IO) sessions, across their polling requests and WebSocket.',
    labels: [],
  },
  engineioSessions: {
    name: 'engineio_sessions_total',
    type: 'counter',
    help: 'Ended engine.io sessions by the transports they used in order ("polling" alone: the upgrade never happened) and by end reason.',
    labels: ['transports', 'reason'],
    reveals: 'upgrade_stripped',
  },
  engineioMessages: {
    name: 'engineio_messages_total',
    type: 'counter',
    help: 'engine.io message packets (not probe, upgrade, noop or heartbeat packets), by direction and transport.',
    labels: ['direction', 'transport'],
  },
  engineioHeartbeats: {
    name: 'engineio_heartbeats_total',
    type: 'counter',
    help: 'engine.io ping and pong packets (probes excluded), by direction and packet.',
    labels: ['direction', 'packet'],
  },
  engineioHeartbeatMisses: {
    name: 'engineio_heartbeat_misses_total',
    type: 'counter',
    help: 'engine.io heartbeats missed, by the silent peer: a ping not answered within pingTimeout (client), or no ping within pingInterval + pingTimeout (server).',
    labels: ['peer'],
    reveals: 'zombie',
  },
  socketioEvents: {
    name: 'socketio_events_total',
    type: 'counter',
    help: 'Socket.IO packets by direction, namespace and event name; connect, disconnect, connect_error and __ack__ name the packets that are not events. Names past --label-cap are __other__.',
    labels: ['direction', 'namespace', 'event'],
  },
  graphqlOperationsActive: {
    name: 'graphql_ws_operations_active',
    type: 'gauge',
    help: 'graphql-ws operations (subscribe/start) not yet completed, by subprotocol.',
    labels: ['subprotocol'],
  },
  graphqlOperations: {
    name: 'graphql_ws_operations_total',
    type: 'counter',
    help: 'Ended graphql-ws operations by subprotocol and outcome: complete (by the server), error, cancelled (by the client), connection_closed (still open when the connection ended).',
    labels: ['subprotocol', 'outcome'],
  },
  graphqlFirstResult: {
    name: 'graphql_ws_first_result_seconds',
    type: 'histogram',
    help: "Time from an operation's subscribe (start) to its first next (data) with the same id, in seconds.",
    labels: ['subprotocol'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  graphqlAck: {
    name: 'graphql_ws_connection_ack_seconds',
    type: 'histogram',
    help: 'Time from connection_init to connection_ack, in seconds.',
    labels: ['subprotocol'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  graphqlRejections: {
    name: 'graphql_ws_rejections_total',
    type: 'counter',
    help: 'graphql-ws connections the server closed with a 4xxx protocol code (4401 unauthorized, 4403 forbidden, 4408 init timeout, 4429 too many inits, ...), by subprotocol and code.',
    labels: ['subprotocol', 'code'],
  },
  mqttPackets: {
    name: 'mqtt_packets_total',
    type: 'counter',
    help: 'MQTT control packets (MQTT 3.1, 3.1.1 and 5 over WebSocket) by direction and packet type; pingreq and pingresp are the MQTT heartbeats.',
    labels: ['direction', 'type'],
  },
  mqttConnackRefusals: {
    name: 'mqtt_connack_refusals_total',
    type: 'counter',
    help: 'MQTT connections the broker refused in its CONNACK, by reason (MQTT 5 reason names; 3.1.1 return codes map to the same names).',
    labels: ['reason'],
  },
  mqttKeepaliveMisses: {
    name: 'mqtt_keepalive_misses_total',
    type: 'counter',
    help: 'MQTT keep-alive misses by the silent peer: a client that sent nothing for 1.5 times its keep-alive (client), a PINGREQ not answered within the keep-alive (server).',
    labels: ['peer'],
    reveals: 'zombie',
  },
  sseStreamsActive: {
    name: 'sse_streams_active',
    type: 'gauge',
    help: 'Server-Sent Events responses currently streaming through the sidecar.',
    labels: [],
  },
  sseEventsSent: {
    name: 'sse_events_sent_total',
    type: 'counter',
    help: 'Server-Sent Events dispatched to clients: blocks ended by a blank line that carry a data field (comments and keep-alives are not events). With --protocols excluding sse: every blank-line-ended block.',
    labels: [],
  },
  sseComments: {
    name: 'sse_comments_total',
    type: 'counter',
    help: 'Server-Sent Events comment lines (": ping" keep-alives and the like) relayed to clients; they dispatch no event.',
    labels: [],
  },
  sseResumed: {
    name: 'sse_streams_resumed_total',
    type: 'counter',
    help: 'Server-Sent Events streams whose request carried Last-Event-ID: a client resuming a stream it lost.',
    labels: [],
  },
  sseRetry: {
    name: 'sse_retry_seconds',
    type: 'histogram',
    help: 'Reconnection times the server set with a retry: field, in seconds.',
    labels: [],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  sseBytesSent: {
    name: 'sse_bytes_sent_total',
    type: 'counter',
    help: 'Bytes of Server-Sent Events bodies relayed to clients.',
    labels: [],
  },
  sseStreamDuration: {
    name: 'sse_stream_duration_seconds',
    type: 'histogram',
    help: 'Lifetime of ended Server-Sent Events streams, in seconds.',
    labels: [],
    buckets: DURATION_S_BUCKETS,
    reveals: 'idle_timeout',
  },
  longpollActive: {
    name: 'longpoll_requests_active',
    type: 'gauge',
    help: 'Long-poll requests currently waiting for their answer.',
    labels: [],
  },
  longpollResponses: {
    name: 'longpoll_responses_total',
    type: 'counter',
    help: 'Completed long-poll requests by status class.',
    labels: ['status_class'],
  },
  longpollWait: {
    name: 'longpoll_wait_duration_seconds',
    type: 'histogram',
    help: 'Time a long-poll request waited for its answer, in seconds.',
    labels: [],
    buckets: DURATION_S_BUCKETS,
  },
  realtimeActive: {
    name: 'socketlens_connections_active',
    type: 'gauge',
    help: 'Live real-time connections of every transport, by transport.',
    labels: ['transport'],
  },
  httpRequests: {
    name: 'socketlens_http_requests_total',
    type: 'counter',
    help: 'HTTP requests (not upgrades) proxied, by transport and status class.',
    labels: ['transport', 'status_class'],
  },
  faultsActive: {
    name: 'socketlens_faults_active',
    type: 'gauge',
    help: 'Faults injected through the fault API (--faults) that are active now, by action.',
    labels: ['action'],
  },
  faultHits: {
    name: 'socketlens_fault_hits_total',
    type: 'counter',
    help: 'Upgrades and connections an injected fault acted on, by action.',
    labels: ['action'],
  },
  // Event-loop delay of the sidecar's own process: a stalled loop delays every relayed message,
  // so these are what the latency tail is checked against. prom-client's default process
  // metrics produce them from perf_hooks.monitorEventLoopDelay (sampled every 10 ms) and start
  // a new window at every scrape, so each value covers the time since the previous scrape.
  // Each sample is the whole interval between two timer ticks, not only the lateness: an idle
  // loop reads about 10 ms (EVENT_LOOP_SAMPLE_MS), and the lateness is the value minus that.
  eventLoopLagP50: {
    name: 'nodejs_eventloop_lag_p50_seconds',
    type: 'gauge',
    help: 'Median event-loop delay of the sidecar process since the previous scrape, in seconds.',
    labels: [],
  },
  eventLoopLagP90: {
    name: 'nodejs_eventloop_lag_p90_seconds',
    type: 'gauge',
    help: '90th percentile of the event-loop delay since the previous scrape, in seconds.',
    labels: [],
  },
  eventLoopLagP99: {
    name: 'nodejs_eventloop_lag_p99_seconds',
    type: 'gauge',
    help: '99th percentile of the event-loop delay since the previous scrape, in seconds.',
    labels: [],
  },
  eventLoopLagMax: {
    name: 'nodejs_eventloop_lag_max_seconds',
    type: 'gauge',
    help: 'Longest event-loop delay since the previous scrape, in seconds.',
    labels: [],
  },
  clientErrors: {
    name: 'socketlens_client_errors_total',
    type: 'counter',
    help: 'Client connections dropped before a request could be proxied (malformed HTTP, oversize headers, slow request), by reason.',
    labels: ['reason'],
  },
  resourceExhaustion: {
    name: 'socketlens_resource_exhaustion_total',
    type: 'counter',
    help: 'Times the sidecar itself ran out of file descriptors or kernel memory (code: EMFILE, ENFILE, ENOBUFS, ENOMEM), by where: opening the backend socket of an upgrade or of a request (answered 503), or accepting a client connection.',
    labels: ['where', 'code'],
  },
  drainActive: {
    name: 'socketlens_drain_active',
    type: 'gauge',
    help: '1 while a drain (kind="drain": SIGTERM or an admin request) or a rebalancing (kind="rebalance") is under way, else 0.',
    labels: ['kind'],
  },
  drainRemaining: {
    name: 'socketlens_drain_connections_remaining',
    type: 'gauge',
    help: 'Connections a running drain or rebalancing has still to close, by kind.',
    labels: ['kind'],
  },
  drainCloses: {
    name: 'socketlens_drain_closes_total',
    type: 'counter',
    help: 'Connections closed by a drain or a rebalancing, by kind and pace (staggered: spread over a window of at least 1 s; at_once: a shorter window).',
    labels: ['kind', 'pace'],
    reveals: 'reconnect_storm',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The series names a metric exposes (histograms add _bucket, _sum and _count). */
export function seriesNames(def: MetricDefinition): string[] {
  if (def.type !== 'histogram') return [def.name];
  return [`${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`];
}

/** Close code label: exact for 1000-1015, bucketed for 3000-3999 and 4000-4999, else "other". */
export function closeCodeLabel(code: number): string {
  if (code >= 1000 && code <= 1015) return String(code);
  if (code >= 3000 && code <= 3999) return '3xxx';
  if (code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}

/** Status class label, e.g. 404 -> "4xx". */
export function statusClass(status: number): string {
  if (status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
  return 'other';
}
