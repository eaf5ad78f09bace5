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
 */
export const productionNodeFlags: readonly string[] = ["--max-semi-space-size=16"];

/**
 * `execArgv` with every production flag it does not already set (by name),
 * so a flag the operator chose wins over Sluice's default.
 */
export function withProductionNodeFlags(execArgv: readonly string[]): string[] {
  const named = new Set(execArgv.map(flagName));
  return [...execArgv, ...productionNodeFlags.filter((f) => !named.has(flagName(f)))];
}

/** "--max-semi-space-size=16" → "--max-semi-space-size"; V8 reads "_" as "-". */
function flagName(arg: string): string {
  const eq = arg.indexOf("=");
  return (eq === -1 ? arg : arg.slice(0, eq)).replaceAll("_", "-");
}
