/**
 * One OpenTelemetry span per connection, through @opentelemetry/api only.
 *
 * With no SDK registered the API hands out non-recording spans and a no-op propagator, so the
 * cost is one small object per connection and nothing per message. `setupTracingFromEnv()`
 * registers an OTLP/HTTP exporter when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
 * variable) is set; the SDK is only loaded then.
 */
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

export const SPAN_NAME = 'ws.connection';
const tracer = () => trace.getTracer('socketlens');

export function startConnectionSpan(transport: string, path: string, peer: string, clientId: string): Span {
  const span = tracer().startSpan(SPAN_NAME, { kind: SpanKind.SERVER });
  if (span.isRecording()) {
    span.setAttributes({
      'socketlens.transport': transport,
      'url.path': path,
      'client.address': peer,
      'socketlens.client_id': clientId,
    });
  }
  return span;
}

/** Adds W3C trace context headers for `span` (a no-op without a registered propagator). */
export function injectTraceHeaders(span: Span, headers: Record<string, string>): void {
  propagation.inject(trace.setSpan(context.active(), span), headers);
}

export interface SpanClose {
  code: number | null;
  initiator: string | null;
  reason: string;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export function endConnectionSpan(span: Span, c: SpanClose): void {
  if (span.isRecording()) {
    const attrs: Record<string, string | number> = {
      'socketlens.close.reason': c.reason,
      'socketlens.bytes_in': c.bytesIn,
      'socketlens.bytes_out': c.bytesOut,
      'socketlens.messages_in': c.messagesIn,
      'socketlens.messages_out': c.messagesOut,
    };
    if (c.code !== null) attrs['websocket.close.code'] = c.code;
    if (c.initiator !== null) attrs['socketlens.close.initiator'] = c.initiator;
    span.addEvent('close', attrs);
    span.setAttributes(attrs);
    if (c.code === 1006 || c.code === 1011) span.setStatus({ code: SpanStatusCode.ERROR, message: c.reason });
  }
  span.end();
}

/**
 * Registers an OTLP exporter if the standard environment variables ask for one. Returns a
 * function that flushes and stops it (call it before exiting), or null when tracing stays off.
 */
export async function setupTracingFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<(() => Promise<void>) | null> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  if (env.OTEL_SDK_DISABLED === 'true') return null;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { W3CTraceContextPropagator }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/core'),
    ]);
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return () => provider.shutdown();
}
