/** "Did you mean ...?" for mistyped flags, config keys and environment variables. */

/** Damerau-Levenshtein distance (adjacent transpositions count as one edit). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known name nearest to `name` (case-insensitive), if it is close enough to be a typo: at
 * most a third of the name's length in edits (at least 1, at most 4). Ties go to the first listed.
 */
export function nearest(name: string, known: Iterable<string>): string | null {
  const n = name.toLowerCase();
  const limit = Math.min(4, Math.max(1, Math.floor(n.length / 3)));
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const dist = editDistance(n, k.toLowerCase());
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  return bestD <= limit ? best : null;
}

/** "; did you mean X?" or "". */
export function didYouMean(
  name: string,
  known: Iterable<string>,
  show: (k: string) => string = (k) => k,
): string {
  const k = nearest(name, known);
  return k === null ? '' : `; did you mean ${show(k)}?`;
}
