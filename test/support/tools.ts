import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test, type SuiteFn, type TestOptions } from "node:test";

/**
 * Finds a third-party tool a suite needs (connectconformance, grpcurl,
 * h2spec, chromium, h2load, ghz). Looks on PATH and in the Go bin folder.
 *
 * Under CI=true a missing tool is an error: .ci/run installs every tool, so a
 * missing one means CI is broken, and a silent skip would hide it. Locally
 * the suite is skipped, with the exact command that installs the tool.
 */
export function findTool(name: string, install: string): { path: string; skip?: undefined } | { path?: undefined; skip: string } {
  const found = lookup(name);
  if (found) return { path: found };
  const message = `${name} is not installed; install it with: ${install}`;
  if (process.env.CI === "true") throw new Error(`${message} (CI=true: a missing tool is a failure)`);
  process.stderr.write(`skipping: ${message}\n`);
  return { skip: message };
}

function lookup(name: string): string | undefined {
  const gobin = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), "go"), "bin");
  const candidate = path.join(gobin, name);
  if (existsSync(candidate)) return candidate;
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `describe(name, options, fn)` when the tool was found; otherwise one
 * skipped test in its place, whose reason is the install command. A skipped
 * describe() creates no tests, so the runner's summary would count nothing
 * as skipped; a skipped test is counted, and npm test lists it at the end.
 */
export function describeWithTool(tool: ReturnType<typeof findTool>, name: string, options: Omit<TestOptions, "skip">, fn: SuiteFn): void {
  if (tool.skip !== undefined) test(name, { skip: tool.skip });
  else describe(name, options, fn);
}
