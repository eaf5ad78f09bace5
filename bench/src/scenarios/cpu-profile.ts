import { readdirSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { echoPath, sluiceArgv } from "../arms/arm-catalog.js";
import { payloads } from "../echo-messages.js";
import { runH2load } from "../load/h2load.js";
import { unaryRequest } from "../load/unary-wire.js";
import { startServer } from "../process/server-process.js";
import { round, type BenchContext } from "./bench-context.js";

export interface ProfileFrame {
  /** Function name, file (shortened to its package or source path) and 1-based line. */
  frame: string;
  selfPercent: number;
}

export interface ProfileResult {
  /** What was profiled and for how long. */
  arm: string;
  seconds: number;
  requests: number;
  /** Where the .cpuprofile was kept (git-ignored next to the results). */
  file: string;
  /** Self time of the top frames, in % of the non-idle samples taken under load. */
  topFrames: ProfileFrame[];
  /** Self time grouped by package or source folder. */
  byOwner: ProfileFrame[];
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Runs the Sluice gRPC unary arm (small message) under `node --cpu-prof`
 * and names where its CPU time goes. Only samples taken while h2load was
 * running count, so start-up and bundling do not dilute the picture. V8's
 * profile clock and process.hrtime are both CLOCK_MONOTONIC on Linux, which
 * is what lets the harness cut the window.
 */
export async function runCpuProfile(ctx: BenchContext, keepAs: string): Promise<ProfileResult> {
  const dir = path.join(ctx.scratchDir, "cpu-profile");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const gateway = await startServer("sluice (cpu profile)", sluiceArgv(), { pin: ctx.cores.server, nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
  const req = unaryRequest("grpc", payloads.small);
  const body = path.join(ctx.scratchDir, "profile-body.bin");
  writeFileSync(body, req.body);
  const load = (seconds: number) =>
    runH2load({ h2load: ctx.h2load, url: `${gateway.url}${echoPath}`, bodyFile: body, headers: req.headers, clients: ctx.plan.unary.clients, streams: ctx.plan.unary.streams, durationSec: seconds, pin: ctx.cores.load });
  let requests = 0;
  let from = 0n;
  let to = 0n;
  try {
    await load(Math.min(2, ctx.plan.profileSeconds));
    from = process.hrtime.bigint() / 1000n;
    requests = (await load(ctx.plan.profileSeconds)).succeeded;
    to = process.hrtime.bigint() / 1000n;
  } finally {
    const code = await gateway.stop(15_000);
    if (code !== 0) ctx.log(`profiled gateway exited with ${code}`);
  }
  const written = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!written) throw new Error(`node --cpu-prof wrote no profile into ${dir}`);
  mkdirSync(path.dirname(keepAs), { recursive: true });
  renameSync(path.join(dir, written), keepAs);
  const profile = JSON.parse(readFileSync(keepAs, "utf8")) as CpuProfile;
  return { arm: "sluice-grpc small", seconds: ctx.plan.profileSeconds, requests, file: keepAs, ...selfTime(profile, Number(from), Number(to)) };
}

/** Self time per frame and per owner, over samples between `from` and `to` (µs, monotonic). */
export function selfTime(profile: CpuProfile, from: number, to: number): { topFrames: ProfileFrame[]; byOwner: ProfileFrame[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const frames = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const frame = byId.get(profile.samples[i]!);
    if (!frame || frame.functionName === "(idle)") continue;
    total++;
    const where = owner(frame.url);
    const name = `${frame.functionName || "(anonymous)"}${frame.url ? ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ""}`;
    frames.set(name, (frames.get(name) ?? 0) + 1);
    const group = where || frame.functionName;
    owners.set(group, (owners.get(group) ?? 0) + 1);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([frame, count]) => ({ frame, selfPercent: round((count / Math.max(1, total)) * 100, 1) }));
  return { topFrames: top(frames, 15), byOwner: top(owners, 12) };
}

/** "@connectrpc/connect", "node:internal/http2", "sluice src/host" ... */
function owner(url: string): string {
  if (!url) return "";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const dist = /\/dist\/(src\/[^/]+)/.exec(url);
  if (dist) return `sluice ${dist[1]}`;
  if (url.includes("/.sluice/")) return "function bundle";
  return url;
}

function shortUrl(url: string): string {
  const pkg = /node_modules\/(.*)$/.exec(url);
  if (pkg) return pkg[1]!.replace(/\/dist\/(esm|cjs)\//, "/");
  const dist = /\/dist\/(src\/.*)$/.exec(url);
  if (dist) return dist[1]!;
  if (url.includes("/.sluice/")) return `bundle ${path.basename(url)}`;
  return url;
}
