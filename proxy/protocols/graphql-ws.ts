/**
 * graphql-ws inside a WebSocket, for both subprotocols:
 * - `graphql-transport-ws` (the graphql-ws library): connection_init/ack, subscribe, next, error,
 *   complete (from the server: done; from the client: cancelled), ping/pong;
 * - `graphql-ws` (the legacy subscriptions-transport-ws): connection_init/ack, start, data,
 *   error, complete (server), stop (client: cancelled), ka, connection_terminate.
 *
 * Each message is JSON; the decoder reads `type` and `id` from its first bytes (both libraries
 * write them before the payload). Operations are tracked by id, at most MAX_OPERATIONS per
 * connection: more are counted as they end but not timed.
 */
import { GRAPHQL_REJECT_CODES, type GraphqlOutcome, type Protocol } from '../metrics/definitions.js';
import type { SidecarContext } from '../context.js';
import { Opcode } from '../ws/frame-scanner.js';
import { directionOf, PrefixSink, type ProtocolView, type WsDecoder, type WsEnd } from './decoder.js';

export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';
export const GRAPHQL_WS_LEGACY = 'graphql-ws';
const MAX_OPERATIONS = 1000;

const TYPE_RE = /"type"\s*:\s*"([a-z_]{1,32})"/;
const ID_RE = /"id"\s*:\s*"([^"\\]{1,128})"/;

interface Operation {
  startedAt: number;
  gotResult: boolean;
}

export class GraphqlWsDecoder implements WsDecoder {
  readonly protocol: Protocol;
  readonly c2s: PrefixSink;
  readonly s2c: PrefixSink;
  private readonly ops = new Map<string, Operation>();
  /** When connection_init was seen: -1 before it, -2 once acknowledged. */
  private initAt = -1;
  private readonly legacy: boolean;

  constructor(
    private readonly ctx: SidecarContext,
    readonly subprotocol: typeof GRAPHQL_TRANSPORT_WS | typeof GRAPHQL_WS_LEGACY,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.protocol = subprotocol;
    this.legacy = subprotocol === GRAPHQL_WS_LEGACY;
    const onMessage = (
      fromClient: boolean,
      prefix: Buffer,
      opcode: number,
      _size: number,
      have: number,
      compressed: boolean,
    ) => this.message(fromClient, prefix, opcode, have, compressed);
    this.c2s = new PrefixSink(true, onMessage);
    this.s2c = new PrefixSink(false, onMessage);
    ctx.metrics.protocolConnections.labels(subprotocol).inc();
  }

  private message(
    fromClient: boolean,
    prefix: Buffer,
    opcode: number,
    have: number,
    compressed: boolean,
  ): void {
    const m = this.ctx.metrics;
    if (compressed) {
      m.protocolCompressed.labels(this.protocol, directionOf(fromClient)).inc();
      return;
    }
    const text = opcode === Opcode.Text ? prefix.toString('latin1', 0, have) : '';
    const type = TYPE_RE.exec(text)?.[1];
    if (type === undefined) {
      m.protocolDecodeErrors.labels(this.protocol, directionOf(fromClient)).inc();
      return;
    }
    const id = ID_RE.exec(text)?.[1];
    const now = this.now();
    if (fromClient) {
      switch (type) {
        case 'connection_init':
          if (this.initAt === -1) this.initAt = now;
          return;
        case 'subscribe':
        case 'start':
          if (id !== undefined && !this.ops.has(id) && this.ops.size < MAX_OPERATIONS) {
            this.ops.set(id, { startedAt: now, gotResult: false });
            m.graphqlOperationsActive.labels(this.subprotocol).inc();
          }
          return;
        case 'complete':
        case 'stop':
          if (id !== undefined) this.end(id, 'cancelled');
          return;
        default:
          return; // ping, pong, connection_terminate
      }
    }
    switch (type) {
      case 'connection_ack':
        if (this.initAt >= 0) {
          m.graphqlAck.labels(this.subprotocol).observe((now - this.initAt) / 1000);
          this.initAt = -2; // acknowledged: later inits are not timed
        }
        return;
      case 'next':
      case 'data': {
        const op = id === undefined ? undefined : this.ops.get(id);
        if (op && !op.gotResult) {
          op.gotResult = true;
          m.graphqlFirstResult.labels(this.subprotocol).observe((now - op.startedAt) / 1000);
        }
        return;
      }
      case 'error':
        if (id !== undefined) this.end(id, 'error');
        return;
      case 'complete':
        if (id !== undefined) this.end(id, 'complete');
        return;
      default:
        return; // ping, pong, ka, connection_error
    }
  }

  private end(id: string, outcome: GraphqlOutcome): void {
    const m = this.ctx.metrics;
    if (this.ops.delete(id)) m.graphqlOperationsActive.labels(this.subprotocol).dec();
    else if (this.legacy && outcome === 'complete') return; // legacy servers also complete stopped ids
    m.graphqlOperations.labels(this.subprotocol, outcome).inc();
  }

  tick(): void {}

  ended(end: WsEnd): boolean {
    for (const id of [...this.ops.keys()]) this.end(id, 'connection_closed');
    if (end.initiator === 'server' && end.closeCode >= 4000 && end.closeCode <= 4999) {
      const code = String(end.closeCode);
      const label = (GRAPHQL_REJECT_CODES as readonly string[]).includes(code) ? code : 'other';
      this.ctx.metrics.graphqlRejections.labels(this.subprotocol, label).inc();
    }
    return false;
  }

  view(): ProtocolView {
    return { protocol: this.protocol };
  }
}
