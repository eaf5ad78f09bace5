import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The production entry point, built by `npm run build` (npm test runs it first). */
export const cli = path.join(root, "dist/src/cli.js");
/** The tests' own function files (the probe service). */
export const probeFunctions = path.join(root, "test/fixtures/functions");

export interface GatewayOptions {
  command?: "start" | "dev";
  functionsDir?: string;
  /** More CLI arguments, e.g. ["--set", "drainTimeoutMs=500"]. */
  args?: string[];
  /** Node flags before the CLI, e.g. the production ones (src/host/node-flags.ts). */
  nodeFlags?: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunningGateway {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves when the output contains `text` (or rejects after `ms`). */
  waitForOutput(text: string | RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Gateways started by this test process and not yet exited: a test that
 * failed or timed out before stopping its gateway does not leave it running
 * after the file ends (a --workers primary's workers follow it out).
 */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts `sluice <command>` as its own process on a free port and resolves
 * once it prints its listening address.
 */
export async function startGateway(opts: GatewayOptions = {}): Promise<RunningGateway> {
  const args = [...(opts.nodeFlags ?? []), cli, opts.command ?? "start", "--port", "0", "--functions", opts.functionsDir ?? probeFunctions, ...(opts.args ?? [])];
  return launchGateway(process.execPath, args, { cwd: opts.cwd ?? root, env: { ...process.env, SLUICE_LOG_LEVEL: "info", ...opts.env } });
}

/**
 * Runs `command args` (a gateway in any form: the CLI, a built artifact) and
 * resolves once it prints its listening address. `env` is the whole
 * environment; `uid`/`gid` run it as another user (when the tests run as root).
 */
export async function launchGateway(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number }): Promise<RunningGateway> {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  running.add(child);
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = once(child, "exit").then(([code]) => {
    running.delete(child);
    return code as number | null;
  });

  const waitForOutput = (text: string | RegExp, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const matches = () => (typeof text === "string" ? out.includes(text) : text.test(out));
      if (matches()) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${String(text)} in gateway output:\n${out}`));
      }, ms);
      const check = () => {
        if (!matches()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      void exited.then(() => {
        if (listeners.has(check)) {
          clearTimeout(timer);
          listeners.delete(check);
          reject(new Error(`gateway exited while waiting for ${String(text)}:\n${out}`));
        }
      });
    });

  try {
    await waitForOutput(/sluice listening on (\S+)/, 20_000);
  } catch (e) {
    // Never leave a half-started gateway behind.
    child.kill("SIGKILL");
    throw e;
  }
  const url = /sluice listening on (\S+)/.exec(out)![1]!;
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    child,
    output: () => out,
    waitForOutput,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion (check, or a start that fails) and returns what it printed. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  // Generous: a check type-checks with TypeScript, and CI runs suites side by side on two cores.
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}
