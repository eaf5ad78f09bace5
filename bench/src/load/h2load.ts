import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { track } from "../process/children.js";
import { percentiles, type Percentiles } from "../report/summary.js";

export interface H2loadRun {
  h2load: string;
  /** Full URL of the RPC, e.g. http://127.0.0.1:1234/bench.v1.EchoService/Echo. */
  url: string;
  /** File with the exact request body (h2load -d). */
  bodyFile: string;
  headers: Record<string, string>;
  /** -c: connections. */
  clients: number;
  /** -m: concurrent streams per connection. */
  streams: number;
  /** -D: measure for this many seconds, or -n: this many requests. */
  durationSec?: number;
  requests?: number;
  /** Write per-request latencies here and compute percentiles from them. */
  logFile?: string;
  /** --rps: a fixed request rate per connection, for latency at a given load (default: as fast as possible). */
  rpsPerClient?: number;
  /** -t: h2load threads (default 1). */
  threads?: number;
  /** CorePlan.load. */
  pin: string[];
}

export interface H2loadResult {
  seconds: number;
  rps: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** Response body bytes (DATA frames), all responses together. */
  dataBytes: number;
  /** Latency per request, from the log file. */
  latency?: Percentiles;
  /** h2load's own CPU seconds, to see whether the client was the bottleneck. */
  clientCpuSeconds: number;
}

/**
 * Runs h2load once. It reports throughput and counts but does not read
 * trailers: each arm's gRPC status is checked separately with a real client
 * (check-replies.ts). h2load runs under bash so that `times` can report its
 * CPU use once it has exited.
 */
export async function runH2load(run: H2loadRun): Promise<H2loadResult> {
  const args = ["-t", String(run.threads ?? 1), "-c", String(run.clients), "-m", String(run.streams), "-d", run.bodyFile];
  if (run.rpsPerClient !== undefined) args.push("--rps", String(run.rpsPerClient));
  for (const [k, v] of Object.entries(run.headers)) args.push("-H", `${k}: ${v}`);
  if (run.durationSec !== undefined) args.push("-D", `${Math.round(run.durationSec * 1000)}ms`);
  else args.push("-n", String(run.requests ?? 100));
  if (run.logFile) args.push("--log-file", run.logFile);
  args.push(run.url);
  const script = '"$0" "$@"; code=$?; times >&2; exit $code';
  const child = spawn(run.pin[0] ?? "bash", [...run.pin.slice(1), ...(run.pin.length > 0 ? ["bash"] : []), "-c", script, run.h2load, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  track(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`h2load exited with ${code}:\n${stdout}\n${stderr}`);
  const result = parseH2load(stdout, stderr);
  if (run.logFile) {
    result.latency = latencyFromLog(run.logFile);
    rmSync(run.logFile, { force: true });
  }
  return result;
}

function match(text: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`h2load output has no ${what}:\n${text}`);
  return m;
}

export function parseH2load(stdout: string, stderr: string): H2loadResult {
  const finished = match(stdout, /finished in ([\d.]+)(s|ms|us), ([\d.]+) req\/s/, "'finished in' line");
  const unit = finished[2] === "s" ? 1 : finished[2] === "ms" ? 1e-3 : 1e-6;
  const req = match(stdout, /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/, "requests line");
  const status = match(stdout, /status codes: (\d+) 2xx/, "status codes line");
  const traffic = match(stdout, /\((\d+)\) data/, "traffic line");
  // `times` prints the shell's own times, then its children's: "0m4.120s 0m0.310s".
  const times = [...stderr.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
  const child = times[1];
  const clientCpuSeconds = child ? Number(child[1]) * 60 + Number(child[2]) + Number(child[3]) * 60 + Number(child[4]) : NaN;
  return {
    seconds: Number(finished[1]) * unit,
    rps: Number(finished[3]),
    succeeded: Number(req[1]),
    failed: Number(req[2]),
    errored: Number(req[3]),
    timeout: Number(req[4]),
    status2xx: Number(status[1]),
    dataBytes: Number(traffic[1]),
    clientCpuSeconds,
  };
}

/** p50 and p99 of the third column (microseconds to end of response) of successful rows. */
function latencyFromLog(file: string): Percentiles | undefined {
  const lines = readFileSync(file, "utf8").split("\n");
  const us = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const cols = line.split("\t");
    if (cols.length < 3 || cols[1] !== "200") continue;
    us[n++] = Number(cols[2]);
  }
  if (n === 0) return undefined;
  const ms = us.subarray(0, n).map((v) => v / 1000);
  return percentiles(ms);
}
