/**
 * Connection limits and the upgrade rate limit. Counts include handshakes still in progress:
 * an accepted upgrade holds its slot until its connection has closed (or its handshake failed).
 */
import type { IncomingMessage } from 'node:http';
import type { SidecarConfig } from '../config/sidecar-options.js';
import type { CheckVerdict } from './types.js';

/** A token bucket: `rate` tokens per second, at most `burst` stored. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
  /** Seconds until the next token. */
  wait(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }
}

export function limitsCheck(config: SidecarConfig): (req: IncomingMessage) => CheckVerdict | null {
  const bucket =
    config.upgradeRate > 0
      ? new TokenBucket(config.upgradeRate, config.upgradeBurst || Math.max(1, config.upgradeRate))
      : null;
  const status = config.rateLimitStatus;
  let total = 0;
  const perIp = new Map<string, number>();
  const refuse = (message: string, headers?: Record<string, string>): CheckVerdict => ({
    ok: false,
    status,
    reason: 'rate_limited',
    message,
    headers,
  });
  return (req) => {
    const ip = req.socket.remoteAddress ?? '';
    if (config.maxConnections > 0 && total >= config.maxConnections)
      return refuse(`socketlens: connection limit of ${config.maxConnections} reached`);
    const mine = perIp.get(ip) ?? 0;
    if (config.maxConnectionsPerIp > 0 && mine >= config.maxConnectionsPerIp)
      return refuse(
        `socketlens: limit of ${config.maxConnectionsPerIp} connections per client address reached`,
      );
    if (bucket && !bucket.take())
      return refuse('socketlens: too many upgrades, retry later', { 'Retry-After': String(bucket.wait()) });
    total++;
    perIp.set(ip, mine + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        total--;
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
      },
    };
  };
}
