// The arithmetic of the benchmarks: medians, ratios and the way figures are
// written. Pure, so the unit tests can check it (test/unit/bench-report.test.ts).

/** The median of some measurements; NaN when there are none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `part / whole`, NaN when either is missing or the whole is zero (a ratio that cannot be read). */
export function ratio(part: number, whole: number): number {
  if (!Number.isFinite(part) || !Number.isFinite(whole) || whole === 0) return Number.NaN;
  return part / whole;
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return (
    Math.abs(ms) >= 10_000 ? `${(ms / 1000).toFixed(1)} s`
    : Math.abs(ms) >= 1000 ? `${(ms / 1000).toFixed(2)} s`
    : `${Math.round(ms)} ms`
  );
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** Whether a measured figure meets its goal; null when it could not be measured. */
export function meets(value: number, goal: { readonly atMost: number }): boolean | null {
  return Number.isFinite(value) ? value <= goal.atMost : null;
}
