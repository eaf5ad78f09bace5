import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** The third-party tools the harness runs, with the command that installs each. */
export const toolInstall = {
  h2load: "sudo apt-get install nghttp2-client",
  taskset: "sudo apt-get install util-linux",
} as const;

export type ToolName = keyof typeof toolInstall;

/** Finds a tool on PATH or in the Go bin folder. */
export function findTool(name: string): string | undefined {
  const gobin = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), "go"), "bin");
  if (existsSync(path.join(gobin, name))) return path.join(gobin, name);
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Looks up every tool; prints the install command for each missing one.
 * Returns the paths found (a missing taskset only loses CPU pinning; a
 * missing h2load is fatal, which the caller decides).
 */
export function lookupTools(): Partial<Record<ToolName, string>> {
  const found: Partial<Record<ToolName, string>> = {};
  for (const name of Object.keys(toolInstall) as ToolName[]) {
    const where = findTool(name);
    if (where) found[name] = where;
    else process.stderr.write(`${name} is not installed; install it with: ${toolInstall[name]}\n`);
  }
  return found;
}
