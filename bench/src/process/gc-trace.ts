/**
 * Heap after garbage collection, from `node --trace-gc` output: the size of
 * the heap each full collection (Mark-Compact) left, which is what the
 * process really holds, unlike its RSS, which follows V8's heap sizing.
 */
export function heapAfterFullGc(output: string): { medianMb: number; maxMb: number; collections: number } | undefined {
  const after: number[] = [];
  for (const m of output.matchAll(/Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)) after.push(Number(m[1]));
  if (after.length === 0) return undefined;
  after.sort((a, b) => a - b);
  return { medianMb: after[Math.floor(after.length / 2)]!, maxMb: after[after.length - 1]!, collections: after.length };
}
