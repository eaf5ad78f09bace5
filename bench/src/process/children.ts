import type { ChildProcess } from "node:child_process";

/**
 * Every process the harness started and has not seen exit, so that none
 * outlives the harness: not on success, not on a thrown error, not on
 * Ctrl-C. Children run in their own process group (spawned detached), and
 * the whole group is killed, which also reaches what a child started (h2load
 * under bash, esbuild under the gateway).
 */
const running = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  running.add(child);
  child.once("exit", () => running.delete(child));
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILLs every process group still running. Synchronous: safe in 'exit'. */
export function killAll(): void {
  for (const child of running) killGroup(child, "SIGKILL");
  running.clear();
}

let installed = false;

/** Makes sure killAll runs however the harness ends. */
export function killChildrenOnExit(): void {
  if (installed) return;
  installed = true;
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
      killAll();
      process.exit(130);
    });
  }
}
