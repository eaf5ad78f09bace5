// The server's side of runWithPrettyLogs (run-with-pretty-logs.ts), apart
// from it so that a server does not load node:child_process and
// node:readline, which only the parent uses.

/** Set in the environment of the server that runWithPrettyLogs started. */
export const prettyChildEnv = "SLUICE_PRETTY_LOG_CHILD";

/** In the child: shut down when the supervisor goes away (its IPC channel closes). */
export function exitWithSupervisor(shutdown: () => void): void {
  if (!process.send) return;
  process.on("disconnect", shutdown);
}
