/**
 * The one place a connection's end is recorded: the close-log line and the end of its span.
 * A relayed WebSocket, an SSE stream, a long-poll and a failed upgrade all end here, each once;
 * the caller decides the reason (from the closed set) and counts its own metric family.
 */
import type { Span } from '@opentelemetry/api';
import type { SidecarContext } from '../context.js';
import type { CloseInitiator, CloseReason, Transport } from '../metrics/definitions.js';
import type { CloseRecord } from '../telemetry/close-log.js';
import { endConnectionSpan } from '../telemetry/tracing.js';

export interface Ending {
  transport: Transport;
  id: string;
  clientId: string;
  peer: string;
  path: string;
  closeCode: number | null;
  initiator: CloseInitiator | null;
  reason: CloseReason;
  detail: string | null;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  handshakeMs?: number;
  status?: number;
  span?: Span;
  /** False when another record covers this ending (an engine.io session writes its own line). */
  logged?: boolean;
  /** What a protocol decoder adds to the line (protocol, session, last events...). */
  view?: Partial<CloseRecord> | null;
}

export function recordEnding(ctx: SidecarContext, e: Ending): CloseRecord {
  const recording = e.span?.isRecording() === true;
  const record: CloseRecord = {
    ts: new Date(ctx.clock.wall()).toISOString(),
    event: 'connection_closed',
    transport: e.transport,
    id: e.id,
    client_id: e.clientId,
    peer: e.peer,
    path: e.path,
    close_code: e.closeCode,
    initiator: e.initiator,
    reason: e.reason,
    detail: e.detail,
    duration_ms: Math.round(e.durationMs),
    bytes_in: e.bytesIn,
    bytes_out: e.bytesOut,
    messages_in: e.messagesIn,
    messages_out: e.messagesOut,
    ...(e.handshakeMs !== undefined ? { handshake_ms: Math.round(e.handshakeMs * 100) / 100 } : {}),
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(recording ? { trace_id: e.span!.spanContext().traceId } : {}),
    ...(e.view ?? {}),
  };
  if (e.logged !== false) ctx.log(record);
  if (e.span) {
    endConnectionSpan(e.span, {
      code: e.closeCode,
      initiator: e.initiator,
      reason: e.reason,
      detail: e.detail,
      status: e.status,
      bytesIn: e.bytesIn,
      bytesOut: e.bytesOut,
      messagesIn: e.messagesIn,
      messagesOut: e.messagesOut,
    });
  }
  return record;
}
