// Counters a drill can read from stats() (in process) or GET /stats (over HTTP).

export interface BackendStats {
  nodeId: string;
  bus: 'memory' | 'redis';
  /** Whether the bus can publish right now (false while Redis is unreachable). */
  busUp: boolean;
  ws: {
    open: number;
    opened: number;
    closed: number;
    echoed: number;
    published: number;
    /** Broadcasts skipped because the socket's bufferedAmount was over the limit. */
    dropped: number;
    heartbeatTerminated: number;
  };
  sse: { open: number; opened: number; dropped: number };
  poll: { waiting: number; answered: number };
  flood: { active: number; messages: number; bytes: number; pausedTicks: number };
  http: { published: number; upgradeRequired: number };
  /** Broadcasts received from the bus (each is counted once, however many local listeners). */
  delivered: number;
}

export function createStats(nodeId: string, bus: 'memory' | 'redis'): BackendStats {
  return {
    nodeId,
    bus,
    busUp: true,
    ws: { open: 0, opened: 0, closed: 0, echoed: 0, published: 0, dropped: 0, heartbeatTerminated: 0 },
    sse: { open: 0, opened: 0, dropped: 0 },
    poll: { waiting: 0, answered: 0 },
    flood: { active: 0, messages: 0, bytes: 0, pausedTicks: 0 },
    http: { published: 0, upgradeRequired: 0 },
    delivered: 0,
  };
}
