/**
 * The sidecar's Prometheus registry, built from the contract in definitions.ts.
 *
 * Counters on the relay's hot path (messages, bytes, pings) are plain numbers in `tally`, bumped
 * once per chunk; prom-client reads them at scrape time. Gauges that describe live connections
 * (active counts, send-buffer bytes) are computed at scrape time from the connection table.
 * Everything else changes once per connection or per failure and goes to prom-client directly.
 */
import client from 'prom-client';
import {
  CLOSE_INITIATORS,
  DIRECTIONS,
  DRAIN_KINDS,
  DRAIN_PACES,
  EXHAUSTION_PLACES,
  type Direction,
  HANDSHAKE_FAILURE_REASONS,
  METRICS,
  type MetricDefinition,
  type Transport,
  PROTOCOLS,
  GRAPHQL_OUTCOMES,
  GRAPHQL_SUBPROTOCOLS,
  MQTT_PACKET_TYPES,
} from './definitions.js';
import { openMetricsText } from './openmetrics.js';
import { type HistogramSeries, TallyHistogram } from './tally-histogram.js';

/** Hot-path counters: plain fields, updated per chunk, exported at scrape time. */
/** prom-client's event-loop gauge whose collect sets all the others of that prefix. */
const EVENT_LOOP_LAG = 'nodejs_eventloop_lag_seconds';
const EVENT_LOOP_LAG_PREFIX = 'nodejs_eventloop_lag_';

export class Tally {
  wsMessagesSent = 0;
  wsMessagesReceived = 0;
  wsBytesSent = 0;
  wsBytesReceived = 0;
  pingsClientToServer = 0;
  pingsServerToClient = 0;
  pongsClientToServer = 0;
  pongsServerToClient = 0;
  sseEventsSent = 0;
  sseBytesSent = 0;
}

/** What the registry needs to know about live connections at scrape time. */
export interface LiveView {
  activeByTransport(transport: Transport): number;
  /** Largest and total bytes queued toward clients. */
  sendBuffer(): { max: number; sum: number };
}

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

type AnyMetric = client.Counter<string> | client.Gauge<string> | client.Histogram<string>;

/** A counter that mirrors a tally field: on scrape it adds what the field gained since the last scrape. */
function mirror(
  counter: client.Counter<string>,
  read: () => number,
  labels?: Record<string, string>,
): () => void {
  let seen = 0;
  const child = labels ? counter.labels(labels) : counter;
  // Exist at 0 from the start, so dashboards show a flat line rather than "no data".
  child.inc(0);
  return () => {
    const now = read();
    if (now > seen) child.inc(now - seen);
    seen = now;
  };
}

export class SidecarMetrics {
  /**
   * Built as an OpenMetrics registry, because prom-client only lets histograms keep exemplars in
   * one, then switched to the Prometheus text format for registry.metrics(); the OpenMetrics
   * text is rendered by openmetrics.ts (see there why).
   */
  readonly registry = new (client.Registry as new (type: string) => client.Registry)(
    client.openMetricsContentType,
  );
  readonly tally = new Tally();

  readonly handshakeDuration: client.Histogram<string>;
  readonly handshakeFailures: client.Counter<string>;
  readonly connectionsOpened: client.Counter<string>;
  readonly closes: client.Counter<string>;
  readonly connectionDuration: client.Histogram<string>;
  readonly heartbeatMisses: client.Counter<string>;
  readonly protocolErrors: client.Counter<string>;
  readonly slowConsumerDisconnects: client.Counter<string>;
  readonly sseStreamDuration: client.Histogram<string>;
  readonly longpollResponses: client.Counter<string>;
  readonly longpollWait: client.Histogram<string>;
  readonly httpRequests: client.Counter<string>;
  readonly clientErrors: client.Counter<string>;
  readonly resourceExhaustion: client.Counter<string>;
  readonly faultsActive: client.Gauge<string>;
  readonly faultHits: client.Counter<string>;
  /** Message sizes per direction, observed by the frame scanners. */
  readonly messageSizeIn: HistogramSeries;
  readonly messageSizeOut: HistogramSeries;
  readonly protocolConnections: client.Counter<string>;
  readonly protocolDecodeErrors: client.Counter<string>;
  readonly protocolCompressed: client.Counter<string>;
  readonly labelOverflow: client.Counter<string>;
  readonly engineioSessions: client.Counter<string>;
  readonly engineioMessages: client.Counter<string>;
  readonly engineioHeartbeats: client.Counter<string>;
  readonly engineioHeartbeatMisses: client.Counter<string>;
  readonly socketioEvents: client.Counter<string>;
  readonly sseComments: client.Counter<string>;
  readonly graphqlOperationsActive: client.Gauge<string>;
  readonly graphqlOperations: client.Counter<string>;
  readonly graphqlFirstResult: client.Histogram<string>;
  readonly graphqlAck: client.Histogram<string>;
  readonly graphqlRejections: client.Counter<string>;
  readonly mqttPackets: client.Counter<string>;
  /**
   * MQTT packets counted per packet, read at scrape time into mqtt_packets_total: slot
   * `type` (1-15) from the client, `16 + type` from the server.
   */
  readonly mqttPacketCounts = new Float64Array(32);
  readonly mqttConnackRefusals: client.Counter<string>;
  readonly mqttKeepaliveMisses: client.Counter<string>;
  readonly sseResumed: client.Counter<string>;
  readonly sseRetry: client.Histogram<string>;
  /** Live engine.io sessions at scrape time; set by the session registry. */
  engineioActive: () => number = () => 0;
  readonly drainActive: client.Gauge<string>;
  readonly drainRemaining: client.Gauge<string>;
  readonly drainCloses: client.Counter<string>;

  private live: LiveView | null = null;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    const t = this.tally;
    const counter = (d: MetricDefinition) =>
      new client.Counter({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [r] });
    const gauge = (d: MetricDefinition) =>
      new client.Gauge({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [r] });
    const histogram = (d: MetricDefinition) =>
      new client.Histogram({
        name: d.name,
        help: d.help,
        labelNames: [...d.labels],
        buckets: [...(d.buckets ?? [])],
        registers: [r],
        enableExemplars: d.exemplars === true,
      });
    const scrapeGauge = (d: MetricDefinition, fill: (g: client.Gauge<string>) => void) =>
      new client.Gauge({
        name: d.name,
        help: d.help,
        labelNames: [...d.labels],
        registers: [r],
        collect() {
          fill(this);
        },
      });

    this.handshakeDuration = histogram(METRICS.handshakeDuration);
    this.handshakeFailures = counter(METRICS.handshakeFailures);
    this.connectionsOpened = counter(METRICS.connectionsOpened);
    this.closes = counter(METRICS.closes);
    this.connectionDuration = histogram(METRICS.connectionDuration);
    this.heartbeatMisses = counter(METRICS.heartbeatMisses);
    this.protocolErrors = counter(METRICS.protocolErrors);
    this.slowConsumerDisconnects = counter(METRICS.slowConsumerDisconnects);
    this.sseStreamDuration = histogram(METRICS.sseStreamDuration);
    this.longpollResponses = counter(METRICS.longpollResponses);
    this.longpollWait = histogram(METRICS.longpollWait);
    this.httpRequests = counter(METRICS.httpRequests);
    this.clientErrors = counter(METRICS.clientErrors);
    this.resourceExhaustion = counter(METRICS.resourceExhaustion);
    this.faultsActive = gauge(METRICS.faultsActive);
    this.faultHits = counter(METRICS.faultHits);
    const sizes = new TallyHistogram(METRICS.messageSize).register(r);
    this.messageSizeIn = sizes.series({ direction: 'client_to_server' });
    this.messageSizeOut = sizes.series({ direction: 'server_to_client' });
    this.protocolConnections = counter(METRICS.protocolConnections);
    this.protocolDecodeErrors = counter(METRICS.protocolDecodeErrors);
    this.protocolCompressed = counter(METRICS.protocolCompressed);
    this.labelOverflow = counter(METRICS.labelOverflow);
    this.engineioSessions = counter(METRICS.engineioSessions);
    this.engineioMessages = counter(METRICS.engineioMessages);
    this.engineioHeartbeats = counter(METRICS.engineioHeartbeats);
    this.engineioHeartbeatMisses = counter(METRICS.engineioHeartbeatMisses);
    this.socketioEvents = counter(METRICS.socketioEvents);
    this.sseComments = counter(METRICS.sseComments);
    this.graphqlOperationsActive = gauge(METRICS.graphqlOperationsActive);
    this.graphqlOperations = counter(METRICS.graphqlOperations);
    this.graphqlFirstResult = histogram(METRICS.graphqlFirstResult);
    this.graphqlAck = histogram(METRICS.graphqlAck);
    this.graphqlRejections = counter(METRICS.graphqlRejections);
    const mqttSeen = new Float64Array(32);
    const mqttCounts = this.mqttPacketCounts;
    this.mqttPackets = new client.Counter({
      name: METRICS.mqttPackets.name,
      help: METRICS.mqttPackets.help,
      labelNames: [...METRICS.mqttPackets.labels],
      registers: [r],
      collect() {
        for (let slot = 1; slot < 32; slot++) {
          const n = mqttCounts[slot];
          if (slot === 16 || n === mqttSeen[slot]) continue;
          const dir = slot < 16 ? 'client_to_server' : 'server_to_client';
          this.labels(dir, MQTT_PACKET_TYPES[(slot & 15) - 1]).inc(n - mqttSeen[slot]);
          mqttSeen[slot] = n;
        }
      },
    });
    this.mqttConnackRefusals = counter(METRICS.mqttConnackRefusals);
    this.mqttKeepaliveMisses = counter(METRICS.mqttKeepaliveMisses);
    this.sseResumed = counter(METRICS.sseResumed);
    this.sseRetry = histogram(METRICS.sseRetry);
    this.drainActive = gauge(METRICS.drainActive);
    this.drainRemaining = gauge(METRICS.drainRemaining);
    this.drainCloses = counter(METRICS.drainCloses);

    // Counters mirrored from the tally. Their collect() runs on every scrape.
    const mirrored = (d: MetricDefinition, fields: Array<[() => number, Record<string, string>?]>) => {
      const c = new client.Counter({
        name: d.name,
        help: d.help,
        labelNames: [...d.labels],
        registers: [r],
        collect: () => {
          for (const m of syncs) m();
        },
      });
      const syncs = fields.map(([read, labels]) => mirror(c, read, labels));
      return c;
    };
    const dir = (d: Direction) => ({ direction: d });
    mirrored(METRICS.messagesSent, [[() => t.wsMessagesSent]]);
    mirrored(METRICS.messagesReceived, [[() => t.wsMessagesReceived]]);
    mirrored(METRICS.bytesSent, [[() => t.wsBytesSent]]);
    mirrored(METRICS.bytesReceived, [[() => t.wsBytesReceived]]);
    mirrored(METRICS.pings, [
      [() => t.pingsClientToServer, dir('client_to_server')],
      [() => t.pingsServerToClient, dir('server_to_client')],
    ]);
    mirrored(METRICS.pongs, [
      [() => t.pongsClientToServer, dir('client_to_server')],
      [() => t.pongsServerToClient, dir('server_to_client')],
    ]);
    mirrored(METRICS.sseEventsSent, [[() => t.sseEventsSent]]);
    mirrored(METRICS.sseBytesSent, [[() => t.sseBytesSent]]);

    // Gauges computed from the live connection table at scrape time.
    const active = (tr: Transport) => this.live?.activeByTransport(tr) ?? 0;
    scrapeGauge(METRICS.connectionsActive, (g) => g.set(active('websocket')));
    scrapeGauge(METRICS.sseStreamsActive, (g) => g.set(active('sse')));
    scrapeGauge(METRICS.longpollActive, (g) => g.set(active('longpoll')));
    scrapeGauge(METRICS.realtimeActive, (g) => {
      for (const tr of ['websocket', 'sse', 'longpoll'] as const) g.labels(tr).set(active(tr));
    });
    scrapeGauge(METRICS.engineioSessionsActive, (g) => g.set(this.engineioActive()));
    scrapeGauge(METRICS.sendBuffer, (g) => {
      const b = this.live?.sendBuffer() ?? { max: 0, sum: 0 };
      g.labels('max').set(b.max);
      g.labels('sum').set(b.sum);
    });

    this.zeroKnownSeries();
    if (opts.defaultMetrics !== false) client.collectDefaultMetrics({ register: r });
    r.setContentType(client.prometheusContentType);
  }

  /**
   * Creates the labelled series that alerts and dashboards look for at 0, so the first event of
   * a kind is a visible increase rather than the birth of a new series (which increase() misses).
   */
  private zeroKnownSeries(): void {
    for (const reason of HANDSHAKE_FAILURE_REASONS) {
      if (reason === 'upstream_rejected') {
        for (const cls of ['4xx', '5xx']) this.handshakeFailures.labels(reason, cls).inc(0);
      } else this.handshakeFailures.labels(reason, '').inc(0);
    }
    for (const code of ['1000', '1001', '1006', '1008', '1011']) {
      for (const who of CLOSE_INITIATORS) this.closes.labels(code, who).inc(0);
    }
    for (const peer of ['client', 'server']) this.heartbeatMisses.labels(peer).inc(0);
    for (const d of DIRECTIONS) this.protocolErrors.labels(d).inc(0);
    for (const reason of ['bad_request', 'header_overflow', 'timeout', 'client_reset'])
      this.clientErrors.labels(reason).inc(0);
    for (const where of EXHAUSTION_PLACES) this.resourceExhaustion.labels(where, 'EMFILE').inc(0);
    for (const p of PROTOCOLS) {
      this.protocolConnections.labels(p).inc(0);
      for (const d of DIRECTIONS) this.protocolDecodeErrors.labels(p, d).inc(0);
    }
    for (const peer of ['client', 'server']) this.engineioHeartbeatMisses.labels(peer).inc(0);
    this.sseComments.inc(0);
    for (const sp of GRAPHQL_SUBPROTOCOLS) {
      this.graphqlOperationsActive.labels(sp).set(0);
      for (const o of GRAPHQL_OUTCOMES) this.graphqlOperations.labels(sp, o).inc(0);
    }
    this.sseResumed.inc(0);
    for (const peer of ['client', 'server']) this.mqttKeepaliveMisses.labels(peer).inc(0);
    for (const d of DIRECTIONS) {
      for (const tr of ['polling', 'websocket']) this.engineioMessages.labels(d, tr).inc(0);
    }
    for (const kind of DRAIN_KINDS) {
      this.drainActive.labels(kind).set(0);
      this.drainRemaining.labels(kind).set(0);
      for (const pace of DRAIN_PACES) this.drainCloses.labels(kind, pace).inc(0);
    }
  }

  /**
   * A WebSocket handshake took `ms`; `traceId` (the connection's span, when traced) becomes the
   * exemplar of its bucket.
   */
  observeHandshake(ms: number, traceId: string | null): void {
    this.handshakeDuration.observe({
      value: ms,
      exemplarLabels: traceId ? { trace_id: traceId } : NO_LABELS,
    });
  }

  /** A WebSocket connection lived `seconds`; `traceId` as for observeHandshake. */
  observeConnectionDuration(seconds: number, traceId: string | null): void {
    this.connectionDuration.observe({
      value: seconds,
      exemplarLabels: traceId ? { trace_id: traceId } : NO_LABELS,
    });
  }

  attach(live: LiveView): void {
    this.live = live;
  }

  /** The Prometheus text exposition, as served at /metrics. */
  async exposition(): Promise<string> {
    return this.registry.metrics();
  }

  /** The OpenMetrics exposition (with exemplars), served at /metrics to scrapers that ask for it. */
  async openMetricsExposition(): Promise<string> {
    return openMetricsText(this.registry);
  }

  /**
   * Current value of one series, for tests, drills and the live page: the sum of the series
   * matching `labels`. A histogram's name gives its observation count; its `_bucket`, `_sum`
   * and `_count` series can be named directly (e.g. `ws_handshake_duration_ms_bucket`, le="1000").
   */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    // prom-client sets its event-loop delay gauges (p50, p99, max, …) only in the collect of
    // nodejs_eventloop_lag_seconds, which a scrape runs and reading one gauge alone does not.
    // Run it first, so the value is the one a scrape would give (and a new window starts, too).
    if (name.startsWith(EVENT_LOOP_LAG_PREFIX)) await this.registry.getSingleMetric(EVENT_LOOP_LAG)?.get();
    const part = /_(bucket|sum|count)$/.exec(name);
    let metric = this.registry.getSingleMetric(name) as AnyMetric | undefined;
    let series = name;
    if (!metric && part) {
      metric = this.registry.getSingleMetric(name.slice(0, -part[0].length)) as AnyMetric | undefined;
    } else if (metric && (metric instanceof client.Histogram || metric instanceof TallyHistogram)) {
      series = `${name}_count`;
    }
    if (!metric) throw new Error(`no metric named ${name}`);
    const data = await metric.get();
    let sum = 0;
    for (const v of data.values) {
      const metricName = (v as { metricName?: string }).metricName ?? data.name;
      if (metricName !== series) continue;
      const vl = v.labels as Record<string, string | number>;
      if (Object.entries(labels).every(([k, want]) => String(vl[k]) === want)) sum += v.value;
    }
    return sum;
  }
}
