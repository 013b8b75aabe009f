/**
 * Every socket the sidecar holds, in any state: client sockets from the moment they are
 * accepted (plain HTTP, upgrades still being checked or answered, relays after the 101, non-101
 * answers being streamed), and backend sockets opened for upgrades. Shutdown waits for this set
 * to empty and cuts whatever is left in it when the drain time is over.
 */
import type { Socket } from 'node:net';

export class SocketRegistry {
  private readonly live = new Set<Socket>();
  private waiters: Array<() => void> = [];
  /**
   * One 'close' listener for every held socket (the socket is `this`): a per-socket closure, or
   * `once` and its bound wrapper, would cost each held socket a few hundred bytes.
   */
  private readonly onClose: (this: Socket) => void;

  constructor() {
    const registry = this;
    this.onClose = function onHeldSocketClose(this: Socket) {
      registry.closed(this);
    };
  }

  hold(socket: Socket): void {
    if (socket.destroyed || this.live.has(socket)) return;
    this.live.add(socket);
    socket.on('close', this.onClose);
  }

  /**
   * The caller watches `socket`'s 'close' from now on and calls closed() from its own listener:
   * a relay's sockets then carry one 'close' listener each instead of an array of two.
   */
  handOver(socket: Socket): void {
    if (this.live.has(socket)) socket.removeListener('close', this.onClose);
  }

  /** A held socket is closed (called by its 'close' listener, ours or the one it was handed to). */
  closed(socket: Socket): void {
    if (!this.live.delete(socket)) return;
    if (this.live.size === 0) this.wake();
  }

  get size(): number {
    return this.live.size;
  }

  /** Resolves once no socket is held. */
  empty(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Cuts every socket still held. */
  destroyAll(): void {
    for (const s of this.live) s.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}
