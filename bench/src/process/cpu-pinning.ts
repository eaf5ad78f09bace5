import os from "node:os";

/**
 * Where processes run. With two or more cores and taskset, servers get the
 * last core and load generators core 0, so a server never competes with the
 * client driving it. The harness itself is not pinned: it only waits.
 */
export interface CorePlan {
  /** Prefix for a server's command line, e.g. ["taskset", "-c", "1"]; empty if unpinned. */
  server: string[];
  /** Same for load generators. */
  load: string[];
  description: string;
}

export function planCores(taskset: string | undefined): CorePlan {
  const cores = os.availableParallelism();
  if (!taskset) return { server: [], load: [], description: "not pinned (taskset missing)" };
  if (cores < 2) return { server: [], load: [], description: "not pinned (one core)" };
  const serverCore = String(cores - 1);
  return {
    server: [taskset, "-c", serverCore],
    load: [taskset, "-c", "0"],
    description: `servers on core ${serverCore}, load generators on core 0 (taskset)`,
  };
}
