// The official Connect conformance suite (connectconformance, server mode)
// against the real gateway: the runner starts server-launcher.ts once per
// server configuration (HTTP/1.1 and HTTP/2; Connect, gRPC and gRPC-Web; TLS
// with and without client certificates), and its reference clients call the
// ConformanceService function in test/conformance/functions/ through it with
// every codec and compression config.yaml declares. Then the same suite three
// more times through a proxy route to the suite's own reference server, one
// run per upstream protocol (gRPC, Connect, gRPC-Web). No case is allowed to
// fail: there is no known-failing list.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { cli, root } from "../support/gateway.js";
import { findTool } from "../support/tools.js";
import { conformanceVersion, genDir, generateConformanceCode, installCommand, referenceInstall } from "./generate.js";

const runner = findTool("connectconformance", installCommand);
const reference = findTool("referenceserver", referenceInstall);

/** The whole run takes 2–3 minutes on two cores; a hang must not hold CI for longer than this. */
const runnerTimeoutMs = 8 * 60_000;

interface RunResult {
  code: number | null;
  output: string;
}

/**
 * Runs connectconformance, echoing its output as it comes so that CI logs
 * show progress. With `upstreamProtocol`, the gateway proxies the service to
 * the reference server in that protocol (see server-launcher.ts).
 */
function runConformance(tool: string, upstreamProtocol?: string): Promise<RunResult> {
  const launcher = ["node", "--import", "tsx", "test/conformance/server-launcher.ts"];
  const conf = upstreamProtocol === undefined ? "test/conformance/config.yaml" : "test/conformance/config-proxy.yaml";
  const args = ["--mode", "server", "--conf", conf, "-v", "--", ...launcher];
  const env = upstreamProtocol === undefined ? process.env : { ...process.env, CONFORMANCE_UPSTREAM_PROTOCOL: upstreamProtocol };
  process.stdout.write(`\n$ ${upstreamProtocol ? `CONFORMANCE_UPSTREAM_PROTOCOL=${upstreamProtocol} ` : ""}connectconformance ${args.join(" ")}\n`);
  const child = spawn(tool, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const echo = (chunk: Buffer) => {
    output += chunk.toString();
    process.stdout.write(chunk);
  };
  child.stdout.on("data", echo);
  child.stderr.on("data", echo);
  // SIGTERM lets the runner stop its servers; the launchers also stop their
  // gateway when the runner is gone.
  const timer = setTimeout(() => {
    output += `\nconnectconformance did not finish within ${runnerTimeoutMs / 1000} s; stopping it\n`;
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
  }, runnerTimeoutMs);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

let prepared: string | undefined;

/** Checks the runner's version and the build; generates and type-checks the suite's code once per run. */
function prepare(): string {
  if (prepared !== undefined) return prepared;
  const tool = runner.path!;
  const version = execFileSync(tool, ["--version"], { encoding: "utf8" }).trim();
  assert.ok(version.endsWith(` ${conformanceVersion}`), `${tool} is ${version}; this suite pins ${conformanceVersion}: ${installCommand}`);
  assert.ok(existsSync(cli), `${path.relative(root, cli)} is missing; run "npm run build" first (npm test does)`);
  generateConformanceCode();
  // The root tsconfig.json cannot see this folder's generated code; check it now that it exists.
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-p", "test/conformance/tsconfig.json"], { cwd: root, stdio: "inherit" });
  assert.ok(existsSync(genDir));
  prepared = tool;
  return tool;
}

async function expectEveryCasePasses(upstreamProtocol?: string): Promise<void> {
  const tool = prepare();
  const { code, output } = await runConformance(tool, upstreamProtocol);
  const summary = /^\d+ passed, \d+ failed.*$/m.exec(output)?.[0] ?? "(no summary: the runner did not finish)";
  const failed = output.split("\n").filter((line) => line.startsWith("FAILED: "));
  assert.equal(code, 0, `connectconformance exited with ${code}: ${summary}\n${failed.join("\n")}`);
  assert.match(summary, / 0 failed/);
}

test(`Connect conformance ${conformanceVersion}, server mode: every case passes`, { skip: runner.skip, timeout: runnerTimeoutMs + 120_000 }, () => expectEveryCasePasses());

// The same suite through a proxy route: whatever protocol the client speaks,
// the upstream (the suite's reference server) is spoken to in one protocol.
for (const upstream of ["grpc", "connect", "grpc-web"]) {
  test(`Connect conformance ${conformanceVersion} through a proxy route to a ${upstream} upstream: every case passes`, { skip: runner.skip ?? reference.skip, timeout: runnerTimeoutMs + 120_000 }, () => expectEveryCasePasses(upstream));
}
