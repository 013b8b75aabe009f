/**
 * The table of live connections: counts by transport, send-buffer figures for the metrics, a
 * snapshot for /connections, and one shared timer that gives every connection its periodic tick
 * (so heartbeats cost no timer per connection).
 */
import type { Cancel, Clock } from '../clock.js';
import type { LiveView } from '../metrics/registry.js';
import type { Transport } from '../metrics/definitions.js';
import type { ConnectionSnapshot, LiveConnection } from './live.js';

export class ConnectionTable implements LiveView {
  private readonly live = new Set<LiveConnection>();
  private readonly counts = { websocket: 0, sse: 0, longpoll: 0, http: 0 } satisfies Record<
    Transport,
    number
  >;
  private timer: Cancel | null = null;
  private tickMs = 1000;

  constructor(private readonly clock: Clock) {}

  /** How often connections are ticked; the table keeps the smallest interval asked for. */
  requestTick(ms: number): void {
    const next = Math.max(20, Math.min(this.tickMs, Math.floor(ms)));
    if (next !== this.tickMs && this.timer) {
      this.timer();
      this.timer = null;
    }
    this.tickMs = next;
    this.ensureTimer();
  }

  add(c: LiveConnection): void {
    this.live.add(c);
    this.counts[c.transport]++;
    this.ensureTimer();
  }

  remove(c: LiveConnection): void {
    if (!this.live.delete(c)) return;
    this.counts[c.transport]--;
    if (this.live.size === 0 && this.timer) {
      this.timer();
      this.timer = null;
    }
  }

  has(c: LiveConnection): boolean {
    return this.live.has(c);
  }

  get size(): number {
    return this.live.size;
  }

  activeByTransport(transport: Transport): number {
    return this.counts[transport];
  }

  sendBuffer(): { max: number; sum: number } {
    let max = 0;
    let sum = 0;
    for (const c of this.live) {
      const b = c.bufferedBytes();
      sum += b;
      if (b > max) max = b;
    }
    return { max, sum };
  }

  connections(): IterableIterator<LiveConnection> {
    return this.live.values();
  }

  snapshot(now = this.clock.wall()): ConnectionSnapshot[] {
    const out: ConnectionSnapshot[] = [];
    for (const c of this.live) {
      out.push({
        id: c.id,
        transport: c.transport,
        client_id: c.clientId,
        peer: c.peer,
        path: c.path,
        age_ms: now - c.startedAt,
        bytes_in: c.bytesIn(),
        bytes_out: c.bytesOut(),
        messages_in: c.messagesIn(),
        messages_out: c.messagesOut(),
        buffered_bytes: c.bufferedBytes(),
        ...(c.protocolView?.() ?? {}),
      });
    }
    return out;
  }

  stop(): void {
    this.timer?.();
    this.timer = null;
  }

  private ensureTimer(): void {
    if (this.timer || this.live.size === 0) return;
    this.timer = this.clock.every(this.tickMs, () => {
      const now = this.clock.now();
      for (const c of this.live) c.tick?.(now);
    });
  }
}
