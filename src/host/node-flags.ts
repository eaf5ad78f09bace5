/**
 * The flags Sluice's start commands give Node: `npm start` (which the
 * benchmark harness runs), `npx sluice`'s `#!` line, the container's
 * ENTRYPOINT and the systemd unit (test/deploy/node-flags.test.ts holds them
 * to this list). Workers of `sluice start --workers N` get them from their
 * primary.
 *
 * --max-semi-space-size=16: on Node 24, V8 sizes the young generation from
 * the machine's memory; on a 24 GiB machine the gateway under load held
 * about 80 MB more RSS than with this cap. Capped, peak RSS at saturation fell
 * from 276 to 197 MB with unchanged throughput, and the p99 at a fixed rate
 * from 24 to 14 ms: a scavenge of a smaller young generation pauses for less
 * (README.md, "Memory"; BENCHMARKS.md).
 *
 * --min-semi-space-size=16: the young generation starts at that size instead
 * of growing from 1 MB, so start-up allocates without a scavenge (a built
 * artifact ran four, about 18 ms of pauses, before its first answer): 15 ms
 * less to the first RPC, and the same RSS after it.
 */
export const productionNodeFlags: readonly string[] = ["--max-semi-space-size=16", "--min-semi-space-size=16"];

/** V8's young-generation sizes, in either spelling, with "=" or a separate value. */
const youngGenerationFlag = /^--(max|min)[-_]semi[-_]space[-_]size(=|$)/;

/**
 * `execArgv` with the production flags added, unless it sets a
 * young-generation size itself: then the operator chose the young
 * generation, and Sluice adds neither of its own (a minimum of its own above
 * the operator's maximum would not make sense).
 */
export function withProductionNodeFlags(execArgv: readonly string[]): string[] {
  return execArgv.some((a) => youngGenerationFlag.test(a)) ? [...execArgv] : [...execArgv, ...productionNodeFlags];
}
