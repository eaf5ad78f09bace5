import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { root } from "../support/gateway.js";

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningTool {
  child: ChildProcess;
  stdout(): string;
  /** Resolves once stdout satisfies `done` (or rejects after `ms`, or when the tool exits first). */
  waitForStdout(done: (stdout: string) => boolean, ms?: number): Promise<void>;
  /** Closes the tool's stdin: for grpcurl `-d @`, the end of the request stream. */
  endInput(): void;
  finished: Promise<ToolResult>;
}

// Every tool still running, so that a failing test cannot leave one behind.
const running = new Map<ChildProcess, Promise<unknown>>();

/**
 * Starts a third-party tool (grpcurl, h2spec) in the repository root. It is
 * killed after `timeoutMs` whatever happens, so a hung peer fails its test
 * instead of hanging the suite.
 */
export function startTool(file: string, args: string[], opts: { timeoutMs?: number } = {}): RunningTool {
  const child = spawn(file, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
    for (const w of [...waiters]) w();
  });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  // A tool that exits before reading all of its input must not crash the test run.
  child.stdin!.on("error", () => {});
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const finished = once(child, "close").then(([code, signal]) => {
    clearTimeout(timer);
    running.delete(child);
    for (const w of [...waiters]) w();
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr };
  });
  running.set(child, finished);

  const waitForStdout = (done: (stdout: string) => boolean, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (isDone()) {
          finish();
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          reject(new Error(`${file} exited before its output was complete:\n${stdout}\n${stderr}`));
        }
      };
      const timeout = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${file}'s output:\n${stdout}\n${stderr}`));
      }, ms);
      // Called from a stream listener, where a throw would crash the test run.
      const isDone = () => {
        try {
          return done(stdout);
        } catch {
          return false;
        }
      };
      const finish = () => {
        clearTimeout(timeout);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return { child, stdout: () => stdout, waitForStdout, endInput: () => child.stdin!.end(), finished };
}

/** Runs a tool to completion with `input` on its stdin. */
export function runTool(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  const tool = startTool(file, args, opts);
  tool.child.stdin!.end(opts.input ?? "");
  return tool.finished;
}

/** Kills every tool still running; for `after` hooks. */
export async function killRunningTools(): Promise<void> {
  const left = [...running];
  for (const [child] of left) child.kill("SIGKILL");
  await Promise.all(left.map(([, finished]) => finished));
}
