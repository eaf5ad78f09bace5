/**
 * Order-independent sums of metric values, for the primary of --workers.
 * Folding an exited worker into a total regroups a histogram's _sum, and a
 * float sum regrouped can come out one unit in the last place lower, which
 * Prometheus reads as a counter reset. Each value is added as a whole
 * number of nanounits (1e-9 of its unit: seconds, bytes, calls) in a
 * BigInt, and integer addition gives the same total in any order and
 * grouping. A nanounit is finer than anything Sluice measures.
 */
export interface ExactSum {
  nanos: bigint;
}

export function exactSum(): ExactSum {
  return { nanos: 0n };
}

/** Adds `x` (a finite metric value; anything else is left out). */
export function addExact(sum: ExactSum, x: number): void {
  if (Number.isFinite(x)) sum.nanos += BigInt(Math.round(x * 1e9));
}

export function mergeExact(into: ExactSum, from: ExactSum): void {
  into.nanos += from.nanos;
}

/** The sum as a float: the same sum gives the same float, and a larger one never a smaller float. */
export function roundExact(sum: ExactSum): number {
  return Number(sum.nanos) / 1e9;
}
