import type { BenchPlan } from "../bench-plan.js";
import type { CorePlan } from "../process/cpu-pinning.js";

/** What every scenario gets from the runner. */
export interface BenchContext {
  plan: BenchPlan;
  cores: CorePlan;
  h2load: string;
  /** Scratch folder for this run (request bodies, h2load logs, generated functions). */
  scratchDir: string;
  /** One line of progress, to stderr. */
  log(line: string): void;
}

export function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
