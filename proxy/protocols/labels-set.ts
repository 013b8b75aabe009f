/** The bounded labels shared by every decoder of one sidecar (one set of distinct values per label). */
import type { SidecarMetrics } from '../metrics/registry.js';
import { BoundedLabel, OTHER_LABEL } from './labels.js';

export class ProtocolLabels {
  readonly other = OTHER_LABEL;
  /** Socket.IO event names. */
  readonly event: BoundedLabel;
  /** Socket.IO namespaces. */
  readonly namespace: BoundedLabel;

  constructor(metrics: SidecarMetrics, cap: number) {
    const overflow = (label: string) => metrics.labelOverflow.labels(label).inc();
    this.event = new BoundedLabel('event', cap, overflow);
    this.namespace = new BoundedLabel('namespace', cap, overflow);
    for (const l of ['event', 'namespace']) metrics.labelOverflow.labels(l).inc(0);
  }
}
