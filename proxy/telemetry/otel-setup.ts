/**
 * The OpenTelemetry SDK, set up the standard way from OTEL_* environment variables:
 *
 * - exporter: OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific one) is
 *   set or OTEL_TRACES_EXPORTER=otlp; OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true keep
 *   it off. OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL picks http/protobuf (the default) or http/json;
 *   headers, timeout, compression and certificates are read by the exporter itself.
 * - resource: service.name "socketlens" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
 *   says otherwise, plus what the SDK's process and host detectors find. The process's command
 *   line is left out: flags such as --jwt-key may carry a secret.
 * - sampler: OTEL_TRACES_SAMPLER / _ARG, read by the SDK.
 */
import { propagation, trace } from '@opentelemetry/api';
import { ConfigError } from '../errors.js';

export const DEFAULT_SERVICE_NAME = 'socketlens';

/** Resource attributes never exported: they may hold secrets given on the command line. */
const DROPPED_RESOURCE_ATTRIBUTES = ['process.command_args', 'process.command_line'];

type Protocol = 'http/protobuf' | 'http/json';

export interface TracingPlan {
  readonly protocol: Protocol;
}

/** Whether the environment asks for export, and how. Throws ConfigError on a value it cannot honour. */
export function tracingPlan(env: NodeJS.ProcessEnv): TracingPlan | null {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return null;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes('none')) return null;
  for (const e of exporters)
    if (e !== 'otlp')
      throw new ConfigError(
        'OTEL_TRACES_EXPORTER',
        `"${e}" is not supported (socketlens exports "otlp" or "none")`,
      );
  const wanted =
    exporters.includes('otlp') ||
    !!env.OTEL_EXPORTER_OTLP_ENDPOINT ||
    !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!wanted) return null;
  const varName = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (env[varName] ?? 'http/protobuf').trim().toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json')
    throw new ConfigError(
      varName,
      `"${protocol}" is not supported: use http/protobuf (default) or http/json${protocol === 'grpc' ? " (point the endpoint at the collector's HTTP port, usually 4318)" : ''}`,
    );
  return { protocol };
}

/**
 * Registers the SDK if the environment asks for it. Returns a function that flushes and stops
 * it (call it before exiting), or null when tracing stays off.
 */
export async function setupTracingFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<(() => Promise<void>) | null> {
  const plan = tracingPlan(env);
  if (!plan) return null;
  const [
    { BasicTracerProvider, BatchSpanProcessor },
    { W3CTraceContextPropagator },
    resources,
    exporterModule,
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    plan.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const found = resources.detectResources({
    detectors: [resources.processDetector, resources.hostDetector, resources.envDetector],
  });
  await found.waitForAsyncAttributes?.();
  const kept = Object.fromEntries(
    Object.entries(found.attributes).filter(([k]) => !DROPPED_RESOURCE_ATTRIBUTES.includes(k)),
  );
  // Later merges win: the SDK defaults, then ours, then what was detected (env last, so
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the default service name).
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME }))
    .merge(resources.resourceFromAttributes(kept));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new exporterModule.OTLPTraceExporter())],
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return () => provider.shutdown();
}
