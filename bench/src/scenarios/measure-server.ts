import { sampleRss } from "../process/rss-sampler.js";
import type { ServerProcess } from "../process/server-process.js";
import { mib, round } from "./bench-context.js";

/**
 * Runs one timed load against a server and reports what the server spent on
 * it: CPU seconds and the highest RSS seen while it ran.
 */
export async function measureServer<T>(server: ServerProcess, load: () => Promise<T>): Promise<{ out: T; cpuSeconds: number; peakRssMb: number }> {
  const cpu0 = server.cpuSeconds();
  const rss = sampleRss(server);
  const out = await load();
  const peak = rss.stop();
  return { out, cpuSeconds: server.cpuSeconds() - cpu0, peakRssMb: mib(peak) };
}

/**
 * Each round's rate over the rate of `reference`'s round with the same
 * number, so ratios compare arms measured side by side, never across rounds.
 */
export function ratioPerRound<R extends { round: number }>(rounds: R[], reference: R[] | undefined, rate: (r: R) => number): Map<R, number> {
  const out = new Map<R, number>();
  for (const x of rounds) {
    const ref = reference?.find((y) => y.round === x.round);
    const refRate = ref ? rate(ref) : 0;
    if (refRate) out.set(x, round(rate(x) / refRate, 3));
  }
  return out;
}
