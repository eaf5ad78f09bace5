import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { sluiceArgv } from "../arms/arm-catalog.js";
import { exchange } from "../load/http2-exchange.js";
import { compiled, exampleFunctions, gatewayCli, gatewayNodeFlags, repoRoot } from "../paths.js";
import { memory } from "../process/proc-stats.js";
import { cleanEnv, startServer } from "../process/server-process.js";
import { spread, type Spread } from "../report/summary.js";
import { mib, round, type BenchContext } from "./bench-context.js";
import { generateFunctions } from "./generate-functions.js";

export interface ColdStartRun {
  /** exec of the start command → the "listening" line. */
  listeningMs: number;
  /** exec → first successful RPC (HTTP 200 with the expected answer). */
  firstRpcMs: number;
  /** Resident memory right after the first RPC. */
  rssMb: number;
}

/** How the gateway is started, or which floor runs in its place. */
export type ColdStartArm = "start" | "artifact" | "artifact-no-cache" | "floor-fastify" | "floor-http2";

export const coldStartArmLabels: Record<ColdStartArm, string> = {
  start: "sluice start (bundles at start-up)",
  artifact: "built artifact (sluice build), compile cache warmed",
  "artifact-no-cache": "built artifact, no compile cache",
  "floor-fastify": "floor: Fastify h2c, one route, bundled, compile cache warmed",
  "floor-http2": "floor: bare node:http2, one answer",
};

export interface ColdStartResult {
  arm: ColdStartArm;
  label: string;
  functions: string;
  functionCount: number;
  rpc: string;
  /** Node.js version the gateway ran on (the harness's own). */
  node: string;
  runs: ColdStartRun[];
  ok: boolean;
  problem?: string;
  summary?: { listeningMs: Spread; firstRpcMs: Spread; rssMb: Spread };
}

interface FunctionSet {
  functions: string;
  functionCount: number;
  dir: string;
  path: string;
  body: string;
  expect: (json: Record<string, unknown>) => boolean;
}

interface Target {
  arm: ColdStartArm;
  set: FunctionSet;
  argv: string[];
  env?: Record<string, string>;
}

/**
 * Cold start: time from exec of a start command to the first successful RPC,
 * with the example functions and with generated ones, for three ways of
 * starting:
 *
 * - `sluice start`, which bundles every function file at start-up;
 * - a built artifact (`sluice build`, then `node <artifact>/sluice.mjs start`)
 *   whose compile cache was warmed by one `check` beforehand, as the
 *   container image does when it is built (wrangler-free-deploy/container);
 * - the same artifact with Node's compile cache off (a fresh host or Node 20).
 *
 * Two floors answer the examples' first call without Sluice: a bare
 * node:http2 server (what Node itself costs) and a Fastify h2c server with
 * one route, bundled and started like the artifact (what Sluice's host
 * costs). They show how much of the artifact's time is Sluice's own.
 *
 * The first RPC is a Connect JSON call on a fresh h2c connection, sent as
 * soon as the gateway prints its address. Every start runs on the harness's
 * own Node (run the harness with Node 24 for the primary target's figures).
 */
export async function runColdStart(ctx: BenchContext): Promise<ColdStartResult[]> {
  const generated = generateFunctions(path.join(ctx.scratchDir, "cold-functions"), ctx.plan.coldStart.generatedFunctions);
  const sets: FunctionSet[] = [
    {
      functions: "examples (functions/)",
      functionCount: 4,
      dir: exampleFunctions,
      path: "/greet.v1.GreetService/Greet",
      body: JSON.stringify({ name: "bench" }),
      expect: (j) => j.greeting === "Hello, bench!",
    },
    {
      functions: `${ctx.plan.coldStart.generatedFunctions} generated`,
      functionCount: ctx.plan.coldStart.generatedFunctions,
      dir: generated.dir,
      path: `/${generated.lastService}/Echo`,
      body: JSON.stringify({ id: "cold", text: "start" }),
      expect: (j) => j.id === "cold" && j.text === "start",
    },
  ];
  const targets: Target[] = [];
  const problems: { arm: ColdStartArm; set: FunctionSet; problem: string }[] = [];
  for (const [i, set] of sets.entries()) {
    targets.push({ arm: "start", set, argv: sluiceArgv(set.dir) });
    const artifact = path.join(ctx.scratchDir, `cold-artifact-${i}`);
    const built = buildArtifact(set.dir, artifact, ctx);
    if (built) {
      problems.push({ arm: "artifact", set, problem: built });
      continue;
    }
    const argv = [...gatewayNodeFlags, path.join(artifact, "sluice.mjs"), "start", "--port", "0", "--host", "127.0.0.1", "--log-level", "warn"];
    targets.push({ arm: "artifact", set, argv }, { arm: "artifact-no-cache", set, argv, env: { NODE_DISABLE_COMPILE_CACHE: "1" } });
  }
  const examples = sets[0]!;
  targets.push({ arm: "floor-http2", set: examples, argv: [compiled("arms/cold-floor-http2.js")] });
  const floor = await bundleFastifyFloor(path.join(ctx.scratchDir, "cold-floor-fastify"), ctx);
  if (typeof floor === "string") problems.push({ arm: "floor-fastify", set: examples, problem: floor });
  else targets.push({ arm: "floor-fastify", set: examples, argv: [floor.entry], env: { FLOOR_COMPILE_CACHE: floor.cacheDir } });
  const results = targets.map((t): ColdStartResult => ({
    arm: t.arm,
    label: coldStartArmLabels[t.arm],
    functions: t.set.functions,
    functionCount: t.set.functionCount,
    rpc: t.set.path,
    node: process.version,
    runs: [],
    ok: true,
  }));
  for (const { arm, set, problem } of problems) {
    results.push({ arm, label: coldStartArmLabels[arm], functions: set.functions, functionCount: set.functionCount, rpc: set.path, node: process.version, runs: [], ok: false, problem });
  }
  // Interleaved: every target once per round, so drift hits them alike.
  for (let n = 1; n <= ctx.plan.coldStart.runs; n++) {
    for (const [i, t] of targets.entries()) {
      const r = results[i]!;
      if (!r.ok) continue;
      try {
        r.runs.push(await coldStartOnce(t, ctx));
        ctx.log(`cold start ${n}/${ctx.plan.coldStart.runs} ${t.arm}, ${t.set.functions}: ${Math.round(r.runs.at(-1)!.firstRpcMs)} ms to first RPC`);
      } catch (e) {
        r.ok = false;
        r.problem = e instanceof Error ? e.message : String(e);
        ctx.log(`cold start ${t.arm}, ${t.set.functions} FAILED: ${r.problem}`);
      }
    }
  }
  for (const r of results) {
    if (r.runs.length === 0) continue;
    r.summary = {
      listeningMs: spread(r.runs.map((x) => x.listeningMs)),
      firstRpcMs: spread(r.runs.map((x) => x.firstRpcMs)),
      rssMb: spread(r.runs.map((x) => x.rssMb)),
    };
  }
  return results;
}

/**
 * `sluice build` of one functions folder, then one untimed `check` from the
 * artifact with its compile cache folder present, which fills the cache as
 * the container build does. Returns a problem, or undefined.
 */
function buildArtifact(functionsDir: string, out: string, ctx: BenchContext): string | undefined {
  rmSync(out, { recursive: true, force: true });
  const env = cleanEnv();
  // The harness's own Node builds it, so the artifact targets that version.
  const build = spawnSync(process.execPath, [gatewayCli, "build", "--functions", functionsDir, "--out", out, "--set", "typeCheck=off"], { cwd: repoRoot, env, encoding: "utf8", timeout: 120_000 });
  if (build.status !== 0) return `sluice build failed: ${build.stdout}${build.stderr}`;
  ctx.log(`built ${path.relative(repoRoot, out)} (${/content hash (\w{12})/.exec(build.stdout)?.[1] ?? "?"}…)`);
  mkdirSync(path.join(out, ".compile-cache"));
  const warm = spawnSync(process.execPath, [path.join(out, "sluice.mjs"), "check"], { cwd: out, env, encoding: "utf8", timeout: 60_000 });
  if (warm.status !== 0) return `warming the compile cache (sluice.mjs check) failed: ${warm.stdout}${warm.stderr}`;
  return undefined;
}

/**
 * The Fastify floor, bundled as `sluice build` bundles the gateway (ESM,
 * code splitting, so the entry point turns the compile cache on before the
 * bundle loads), and started once to fill its compile cache. Returns the
 * entry point and the cache folder, or a problem.
 */
async function bundleFastifyFloor(out: string, ctx: BenchContext): Promise<{ entry: string; cacheDir: string } | string> {
  rmSync(out, { recursive: true, force: true });
  const cacheDir = path.join(out, ".compile-cache");
  mkdirSync(cacheDir, { recursive: true });
  try {
    const esbuild = await import("esbuild");
    await esbuild.build({
      absWorkingDir: repoRoot,
      entryPoints: { floor: compiled("arms/cold-floor-fastify.js") },
      outdir: out,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node.split(".")[0]}`,
      outExtension: { ".js": ".mjs" },
      // Fastify is CommonJS: its require() of built-ins needs one in ESM.
      banner: { js: 'import { createRequire as __floorCreateRequire } from "node:module"; const require = __floorCreateRequire(import.meta.url);' },
      logLevel: "silent",
    });
  } catch (e) {
    return `bundling the Fastify floor failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const entry = path.join(out, "floor.mjs");
  try {
    const warm = await startServer("Fastify floor (warming its compile cache)", [entry], { pin: ctx.cores.server, env: { FLOOR_COMPILE_CACHE: cacheDir } });
    await warm.stop();
  } catch (e) {
    return `starting the Fastify floor failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  return { entry, cacheDir };
}

async function coldStartOnce(t: Target, ctx: BenchContext): Promise<ColdStartRun> {
  const gateway = await startServer(`sluice (cold start, ${t.arm}, ${t.set.functions})`, t.argv, { pin: ctx.cores.server, readyTimeoutMs: 60_000, ...(t.env ? { env: t.env } : {}) });
  try {
    const headers = { "content-type": "application/json", "connect-protocol-version": "1" };
    const res = await exchange(gateway.url, t.set.path, { headers, body: Buffer.from(t.set.body) });
    const answeredAt = performance.now();
    if (res.status !== 200) throw new Error(`first RPC ${t.set.path}: HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
    if (!t.set.expect(JSON.parse(res.body.toString()) as Record<string, unknown>)) throw new Error(`first RPC ${t.set.path}: unexpected answer ${res.body.toString().slice(0, 200)}`);
    return {
      listeningMs: round(gateway.listeningAt - gateway.spawnedAt, 1),
      firstRpcMs: round(answeredAt - gateway.spawnedAt, 1),
      rssMb: mib(memory(gateway.pid).rssBytes),
    };
  } finally {
    await gateway.stop();
  }
}
