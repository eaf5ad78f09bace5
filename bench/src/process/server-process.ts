import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { repoRoot } from "../paths.js";
import { killGroup, track } from "./children.js";
import { cpuSeconds, memory, type Memory } from "./proc-stats.js";

export interface ServerProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:<port>, as the process printed it. */
  url: string;
  port: number;
  /** performance.now() just before exec, and when the listening line arrived. */
  spawnedAt: number;
  listeningAt: number;
  output(): string;
  cpuSeconds(): number;
  memory(): Memory;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  /** Command prefix that pins the process to a core (CorePlan.server). */
  pin: string[];
  /** Node flags before the script, e.g. ["--cpu-prof"]. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
  /** Added to the (SLUICE_*-free) environment. */
  env?: Record<string, string>;
}

// Not "sluice admin listening on": the admin listener of the metrics arm.
const listening = /(?<!admin )listening on (http:\/\/\S+)/;

/**
 * Starts `node <argv>` (an arm, or the gateway's production start command)
 * as its own process and resolves once it prints `listening on <url>`.
 */
export async function startServer(name: string, argv: string[], opts: StartOptions): Promise<ServerProcess> {
  const command = [...opts.pin, process.execPath, ...(opts.nodeFlags ?? []), ...argv];
  const spawnedAt = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    env: { ...cleanEnv(), ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  track(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);

  const url = await waitForLine(child, () => listening.exec(out)?.[1], opts.readyTimeoutMs ?? 30_000, () => out, name);
  const listeningAt = performance.now();
  const pid = child.pid!;
  return {
    name,
    pid,
    url,
    port: Number(new URL(url).port),
    spawnedAt,
    listeningAt,
    output: () => out,
    cpuSeconds: () => cpuSeconds(pid),
    memory: () => memory(pid),
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      // Whatever the server started (the gateway's esbuild service) goes too.
      killGroup(child, "SIGKILL");
      return code;
    },
  };
}

function waitForLine(child: ChildProcess, found: () => string | undefined, ms: number, output: () => string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = found();
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`${name} exited before it was listening:\n${output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      killGroup(child, "SIGKILL");
      reject(new Error(`${name} did not print "listening on" within ${ms} ms:\n${output()}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off("data", check);
      child.stderr!.off("data", check);
      child.off("exit", onExit);
    };
    // The gateway prints its banner on stderr, the other arms on stdout.
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

/** The harness's environment without SLUICE_* overrides, so flags alone configure the gateway. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_")));
}
