/** Small statistics helpers: medians across runs, percentiles over latency samples. */

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Percentile (0..1) of an ascending-sorted array, nearest-rank. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export interface LatencySummary { samples: number; p50: number; p99: number; p999: number; max: number }

/** Summarises latency samples in µs (sorts a copy of the used part). */
export function summarizeLatency(samples: Float64Array, count: number): LatencySummary {
  const used = samples.slice(0, count).sort();
  return {
    samples: count,
    p50: percentileSorted(used, 0.5),
    p99: percentileSorted(used, 0.99),
    p999: percentileSorted(used, 0.999),
    max: count ? used[count - 1]! : NaN,
  };
}

/** Median of each numeric field across runs (non-numeric fields come from the first run). */
export function medianRecord<T extends object>(runs: readonly T[]): T {
  const out: Record<string, unknown> = { ...(runs[0] as Record<string, unknown>) };
  for (const key of Object.keys(out)) {
    const values = runs.map((r) => (r as Record<string, unknown>)[key]);
    // NaN travels through JSON/IPC as null: treat it as a missing number.
    if (values.every((v) => typeof v === 'number' || v === null) && values.some((v) => v !== null)) out[key] = median(values.map((v) => (v === null ? NaN : v)) as number[]);
    else if (values.every((v) => typeof v === 'boolean')) out[key] = values.some(Boolean);
    else if (values.every((v) => v && typeof v === 'object' && !Array.isArray(v))) out[key] = medianRecord(values as object[]);
  }
  return out as T;
}
