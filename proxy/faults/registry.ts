/**
 * The active faults of one sidecar (enabled with --faults): adding, listing and ending them,
 * matching them against upgrades and connections, and recording what each one hit.
 *
 * A fault is matched once per connection: when the connection opens (the 101 was relayed), or
 * when the fault starts for connections already open if its match says `live`. Upgrade actions
 * (reject-upgrades, slow-handshake) are matched once per upgrade request, before the backend is
 * contacted. Each fault ends by itself after its duration; ending a fault removes whatever it
 * installed. Starting and ending are logged (one JSON line each) and counted.
 */
import type { ConnectionTable } from '../connections/table.js';
import type { SidecarMetrics } from '../metrics/registry.js';
import { HttpStream } from '../http/stream.js';
import { WsConnection } from '../ws/connection.js';
import { type Application, applyFault } from './apply.js';
import { applyStreamFault } from './apply-stream.js';
import { seededRandom } from './random.js';
import { actsOn, type FaultAction, type FaultSpec, type FaultTransport, UPGRADE_ACTIONS } from './spec.js';

/** What a connection fault can act on: a WebSocket, an SSE stream or a long-poll. */
export type FaultTarget = WsConnection | HttpStream;

/** The JSON line written when a fault starts or ends. */
export interface FaultRecord {
  ts: string;
  event: 'fault_started' | 'fault_ended';
  fault_id: string;
  action: FaultAction;
  direction: string;
  match: Record<string, unknown>;
  duration_ms: number;
  hits: number;
  /** fault_ended only: why it ended. */
  ended_by?: 'expired' | 'deleted' | 'shutdown';
}
export type FaultLogger = (record: FaultRecord) => void;

/** Connections listed per fault in GET /faults (the count goes on beyond it). */
const HIT_LIST_MAX = 100;

export interface FaultHit {
  id: string;
  client_id: string;
  at: string;
}

/** What an upgrade must do because of a fault. */
export type UpgradeFault =
  | { kind: 'reject'; faultId: string; status: number; headers: Record<string, string> }
  | { kind: 'delay'; faultId: string; delayMs: number };

export interface FaultView {
  id: string;
  action: FaultAction;
  direction: string;
  match: FaultSpec['match'];
  params: Record<string, unknown>;
  started_at: string;
  ends_at: string;
  remaining_ms: number;
  hits: number;
  connections: FaultHit[];
}

class Fault {
  hits = 0;
  readonly hitList: FaultHit[] = [];
  readonly apps = new Set<Application>();
  readonly startedAt = Date.now();
  readonly random: () => number;
  timer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: string,
    readonly spec: FaultSpec,
  ) {
    this.random = seededRandom(spec.match.seed);
  }

  /** Every criterion but the share. */
  matches(clientId: string, path: string, protocols: readonly string[]): boolean {
    const m = this.spec.match;
    if (m.clientId !== null && m.clientId !== clientId) return false;
    if (m.pathPrefix !== null && !path.startsWith(m.pathPrefix)) return false;
    if (m.protocol !== null && !protocols.includes(m.protocol)) return false;
    return true;
  }

  /** The share: a draw from the fault's own seeded stream, one per otherwise matching candidate. */
  draw(): boolean {
    return this.spec.match.share >= 1 || this.random() < this.spec.match.share;
  }

  hit(id: string, clientId: string): void {
    this.hits++;
    if (this.hitList.length < HIT_LIST_MAX)
      this.hitList.push({ id, client_id: clientId, at: new Date().toISOString() });
  }

  view(): FaultView {
    const s = this.spec;
    const params: Record<string, unknown> = {};
    if (s.action === 'close') Object.assign(params, { code: s.code, reason: s.reason });
    if (s.action === 'delay' || s.action === 'slow-handshake') params.delay_ms = s.delayMs;
    if (s.action === 'delay') params.jitter_ms = s.jitterMs;
    if (s.action === 'throttle') params.rate = s.rate;
    if (s.action === 'reject-upgrades')
      Object.assign(params, { status: s.status, retry_after: s.retryAfter });
    const endsAt = this.startedAt + s.durationMs;
    return {
      id: this.id,
      action: s.action,
      direction: s.direction,
      match: s.match,
      params,
      started_at: new Date(this.startedAt).toISOString(),
      ends_at: new Date(endsAt).toISOString(),
      remaining_ms: Math.max(0, endsAt - Date.now()),
      hits: this.hits,
      connections: [...this.hitList],
    };
  }
}

export class FaultRegistry {
  private readonly faults = new Map<string, Fault>();
  private seq = 0;

  constructor(
    private readonly table: ConnectionTable,
    private readonly metrics: SidecarMetrics,
    private readonly log: FaultLogger,
  ) {}

  get size(): number {
    return this.faults.size;
  }

  add(spec: FaultSpec): FaultView {
    const fault = new Fault(`f${++this.seq}`, spec);
    this.faults.set(fault.id, fault);
    fault.timer = setTimeout(() => this.remove(fault.id, 'expired'), spec.durationMs);
    fault.timer.unref();
    this.metrics.faultsActive.labels(spec.action).inc();
    this.record(fault, 'fault_started');
    if (spec.match.live && !UPGRADE_ACTIONS.has(spec.action)) {
      for (const c of [...this.table.connections()])
        if (c instanceof WsConnection || (c instanceof HttpStream && c.faultable)) this.offer(fault, c);
    }
    return fault.view();
  }

  list(): FaultView[] {
    return [...this.faults.values()].map((f) => f.view());
  }

  get(id: string): FaultView | null {
    return this.faults.get(id)?.view() ?? null;
  }

  /** Ends one fault and removes what it installed; false if there is no such fault. */
  remove(id: string, by: 'expired' | 'deleted' | 'shutdown' = 'deleted'): boolean {
    const fault = this.faults.get(id);
    if (!fault) return false;
    this.faults.delete(id);
    if (fault.timer) clearTimeout(fault.timer);
    for (const app of fault.apps) app.end();
    fault.apps.clear();
    this.metrics.faultsActive.labels(fault.spec.action).dec();
    this.record(fault, 'fault_ended', by);
    return true;
  }

  /** Ends every fault; returns how many there were. */
  clear(by: 'deleted' | 'shutdown' = 'deleted'): number {
    const ids = [...this.faults.keys()];
    for (const id of ids) this.remove(id, by);
    return ids.length;
  }

  /**
   * An upgrade request, or a request that opens an SSE stream or a long-poll, about to be
   * forwarded: the first matching upgrade fault decides.
   */
  onUpgrade(
    clientId: string,
    path: string,
    offered: string | undefined,
    transport: FaultTransport = 'websocket',
  ): UpgradeFault | null {
    if (this.faults.size === 0) return null;
    const protocols = offered ? offered.split(',').map((p) => p.trim()) : [];
    for (const f of this.faults.values()) {
      if (!UPGRADE_ACTIONS.has(f.spec.action) || !actsOn(f.spec, transport)) continue;
      if (!f.matches(clientId, path, protocols) || !f.draw()) continue;
      f.hit('', clientId);
      this.metrics.faultHits.labels(f.spec.action).inc();
      if (f.spec.action === 'slow-handshake')
        return { kind: 'delay', faultId: f.id, delayMs: f.spec.delayMs };
      const headers: Record<string, string> = {};
      if (f.spec.retryAfter !== null) headers['Retry-After'] = String(f.spec.retryAfter);
      return { kind: 'reject', faultId: f.id, status: f.spec.status, headers };
    }
    return null;
  }

  /**
   * A connection just opened (a WebSocket's 101, an SSE stream's response, a long-poll's request):
   * every matching connection fault acts on it.
   */
  onOpen(conn: FaultTarget): void {
    if (this.faults.size === 0) return;
    for (const f of [...this.faults.values()]) if (!UPGRADE_ACTIONS.has(f.spec.action)) this.offer(f, conn);
  }

  private offer(fault: Fault, conn: FaultTarget): void {
    if (!actsOn(fault.spec, conn.transport as FaultTransport)) return;
    // The protocol is the negotiated subprotocol, or what a protocol decoder recognised (engineio, sse).
    const protocols: string[] = [];
    if (conn instanceof WsConnection && conn.protocol) protocols.push(conn.protocol);
    const decoded = conn.protocolView()?.protocol;
    if (decoded) protocols.push(decoded);
    if (!fault.matches(conn.clientId, conn.path, protocols)) return;
    if (!fault.draw()) return;
    fault.hit(conn.id, conn.clientId);
    this.metrics.faultHits.labels(fault.spec.action).inc();
    const seed = fault.spec.match.seed + fault.hits;
    const app =
      conn instanceof WsConnection
        ? applyFault(fault.spec, conn, seed)
        : applyStreamFault(fault.spec, conn, seed);
    if (app === null) return;
    fault.apps.add(app);
    conn.done.then(() => fault.apps.delete(app));
  }

  private record(fault: Fault, event: FaultRecord['event'], by?: FaultRecord['ended_by']): void {
    const s = fault.spec;
    this.log({
      ts: new Date().toISOString(),
      event,
      fault_id: fault.id,
      action: s.action,
      direction: s.direction,
      match: { ...s.match },
      duration_ms: s.durationMs,
      hits: fault.hits,
      ...(by ? { ended_by: by } : {}),
    });
  }
}
