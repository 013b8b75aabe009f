/** Parsers for the human units the CLI accepts: durations ("500ms", "2s", "1m") and sizes ("1MiB"). */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from "500ms", "2s", "1.5m", "1h" or a plain number of milliseconds; null if invalid. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  const m = DURATION.exec(value.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_MS[m[2] ?? 'ms']);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Bytes from "65536", "64KiB", "1MiB", "1mb"; null if invalid. */
export function parseBytes(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  const m = SIZE.exec(value.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]);
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A measured duration for people: "850 ms", "2.9 s", "75 s", "12 min". Reports round here;
 * --json keeps the exact figure.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  if (ms < 600_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function formatBytes(n: number): string {
  if (n !== 0 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2}MiB`;
  if (n !== 0 && n % 1024 === 0) return `${n / 1024}KiB`;
  return String(n);
}
