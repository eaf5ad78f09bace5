/** Median with the range it came from: drift between rounds shows as spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface Percentiles {
  p50: number;
  p99: number;
}

export function spread(values: number[]): Spread {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = finite.length >> 1;
  const median = finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite[finite.length - 1]! };
}

/**
 * The summary of an arm's rounds: the spread of each named metric (a round
 * without it counts as missing), and the highest peak RSS of any round.
 */
export function summarizeRounds<R extends { peakRssMb: number }, K extends keyof R>(
  rounds: R[],
  metrics: readonly K[],
): Record<K, Spread> & { peakRssMb: number } {
  const out = {} as Record<K, Spread>;
  for (const k of metrics) out[k] = spread(rounds.map((r) => (r[k] as number | undefined) ?? NaN));
  return { ...out, peakRssMb: Math.max(...rounds.map((r) => r.peakRssMb)) };
}

/** Nearest-rank percentiles; sorts `values` in place. */
export function percentiles(values: Float64Array): Percentiles {
  values.sort();
  const at = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil(p * values.length) - 1))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
