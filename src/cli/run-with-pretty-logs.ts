import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { prettyChildEnv } from "./pretty-child.js";
import { prettyLogLine } from "./pretty-log.js";

/**
 * Logs for people (`sluice dev`, or logFormat "pretty"): runs the server as a
 * child process and prints its JSON logs as readable lines. The server itself keeps writing pino's
 * JSON (the same logs as `start`), so nothing in the gateway knows or cares.
 *
 * The child gets its own process group: a Ctrl-C reaches only this process,
 * which passes each signal on exactly once (a second Ctrl-C still means
 * "exit now"). If this process dies, the IPC channel closes and the child
 * shuts down instead of holding the port.
 */
export function runWithPrettyLogs(argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...argv], {
    env: { ...process.env, [prettyChildEnv]: "1" },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    detached: true,
  });
  const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => process.stdout.write(`${prettyLogLine(line, color)}\n`));
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on("error", (e) => {
      process.stderr.write(`cannot start the server: ${e.message}\n`);
      resolve(1);
    });
  });
}
