/**
 * Records every alert a Prometheus ever reports as pending or firing, polling GET /api/v1/alerts.
 *
 * Alerts on increase()/rate() of a sidecar's counters only hold while the sidecar (or its last
 * samples) is within the rule's window, so a check made after a run can miss an alert that was
 * active during it. The watcher keeps what it saw, and under which phase (e.g. the drill running
 * at the time) it saw it.
 *
 *   const watch = watchAlerts(prom);
 *   watch.phase('half-open');
 *   ...
 *   await watch.stop();
 *   watch.seen().get('SocketlensHeartbeatMisses'); // { states, phases, firstAt }
 */
import type { PrometheusServer } from '../runner/components/prometheus.js';

export interface SeenAlert {
  /** States observed: pending and/or firing. */
  states: Set<'pending' | 'firing'>;
  /** Phases during which the alert was observed active. */
  phases: Set<string>;
  /** Epoch ms of the first observation. */
  firstAt: number;
}

export interface AlertWatch {
  /** Labels the following observations (e.g. with the drill that is running). */
  phase(name: string): void;
  /** Alert name → what was seen so far. */
  seen(): ReadonlyMap<string, SeenAlert>;
  /** Polls that failed (Prometheus not answering); the last error is kept. */
  errors(): { count: number; last: string | null };
  /** Polls once more, then stops. */
  stop(): Promise<void>;
}

export function watchAlerts(prom: Pick<PrometheusServer, 'alerts'>, everyMs = 500): AlertWatch {
  const seen = new Map<string, SeenAlert>();
  let current = '';
  let failures = 0;
  let lastError: string | null = null;
  let stopped = false;

  const pollOnce = async () => {
    try {
      const alerts = await prom.alerts();
      const now = Date.now();
      for (const a of alerts) {
        if (a.state !== 'pending' && a.state !== 'firing') continue;
        const name = a.labels.alertname ?? '?';
        let s = seen.get(name);
        if (!s) {
          s = { states: new Set(), phases: new Set(), firstAt: now };
          seen.set(name, s);
        }
        s.states.add(a.state);
        s.phases.add(current);
      }
    } catch (err) {
      failures += 1;
      lastError = err instanceof Error ? err.message : String(err);
    }
  };

  // Sequential polls: a slow answer delays the next poll instead of piling requests up.
  const loop = (async () => {
    while (!stopped) {
      await pollOnce();
      if (!stopped) await new Promise((r) => setTimeout(r, everyMs));
    }
  })();

  return {
    phase(name) {
      current = name;
    },
    seen: () => seen,
    errors: () => ({ count: failures, last: lastError }),
    async stop() {
      stopped = true;
      await loop;
      await pollOnce();
    },
  };
}
