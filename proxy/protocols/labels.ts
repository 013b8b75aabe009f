/**
 * Label values that come from traffic (Socket.IO event names and namespaces, the status of a
 * broken stream, ...) pass through a BoundedLabel before they reach a metric. Each label
 * keeps at most `cap` distinct values; past the cap, a new value becomes `__other__` and the
 * overflow is counted, so a hostile client cannot grow the registry without bound.
 */

export const OTHER_LABEL = '__other__';
/** Longest label value kept; longer values are cut (a label value is for reading, not storage). */
export const LABEL_VALUE_MAX = 64;

export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    /** The label's name, e.g. "event"; used as the label of the overflow counter. */
    readonly name: string,
    readonly cap: number,
    private readonly onOverflow: (label: string) => void,
  ) {}

  /** The value to use for `raw`: itself while there is room, `__other__` past the cap. */
  value(raw: string): string {
    const v = raw.length > LABEL_VALUE_MAX ? raw.slice(0, LABEL_VALUE_MAX) : raw;
    if (this.seen.has(v)) return v;
    if (this.seen.size < this.cap) {
      this.seen.add(v);
      return v;
    }
    this.onOverflow(this.name);
    return OTHER_LABEL;
  }

  get size(): number {
    return this.seen.size;
  }
}
