// The benchmark harness: `npm run bench` (full), `-- --quick`, `-- --smoke`.
//
// Starts every arm as its own compiled-JavaScript process on loopback,
// pinned away from the load generator, checks each with a real client,
// warms up, runs the arms interleaved round after round, and writes
// bench/results/<date>.json and .svg, then prints the tables.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { serverArgv, streamingServers, type ServerId } from "./arms/arm-catalog.js";
import { plans, type BenchMode } from "./bench-plan.js";
import { payloads } from "./echo-messages.js";
import { buildDir, gatewayCli, repoRoot, resultsDir, compiled } from "./paths.js";
import { killAll, killChildrenOnExit } from "./process/children.js";
import { planCores } from "./process/cpu-pinning.js";
import { startServer, type ServerProcess } from "./process/server-process.js";
import { lookupTools, toolInstall } from "./process/tools.js";
import { describeMachine } from "./report/machine.js";
import { ratioChart } from "./report/ratio-chart.js";
import { listFailures, type BenchResults } from "./report/results-file.js";
import { formatColdStart, formatProfile, formatResults } from "./report/table.js";
import type { BenchContext } from "./scenarios/bench-context.js";
import { runBidi } from "./scenarios/bidi.js";
import { runBrowserTransports } from "./scenarios/browser-transports.js";
import { checkStreaming, type ReplyCheck } from "./scenarios/check-replies.js";
import { runColdStart } from "./scenarios/cold-start.js";
import { runCpuProfile } from "./scenarios/cpu-profile.js";
import { runServerStream } from "./scenarios/server-stream.js";
import { runPacedClient } from "./scenarios/paced-client.js";
import { runStalledConsumer } from "./scenarios/stalled-consumer.js";
import { runStalledLoad } from "./scenarios/stalled-load.js";
import { runTypeCheckLatency } from "./scenarios/type-check-latency.js";
import { runUnary } from "./scenarios/unary.js";
import { runFixedRate } from "./scenarios/fixed-rate.js";
import { runProxy } from "./scenarios/proxy.js";
import { runWorkers } from "./scenarios/workers.js";
import { heapAfterFullGc } from "./process/gc-trace.js";

const usage = `Usage: node bench/.build/src/run.js [--quick | --smoke | --profile | --cold-start [--runs <n>]] [--out <dir>]

  (no flag)   full run, under 15 minutes; writes bench/results/<date>.json and .svg
  --quick     every arm, shorter runs, under 2 minutes; writes to bench/.build/results/
  --smoke     tiny load, correctness only (the test suite runs this)
  --profile   only the CPU profile of the Sluice gRPC unary arm (10 s under load); prints its top frames
  --cold-start  only the cold-start scenario (sluice start, built artifact with and without
              compile cache; examples and 50 generated functions), on this node binary;
              --runs sets the runs per arm (default: the mode's, 3 for a full run)
  --out <dir> write the results there instead
`;

function parseArgs(argv: string[]): { mode: BenchMode; profileOnly: boolean; coldStartOnly: boolean; runs?: number; outDir?: string } | { error: string } {
  let mode: BenchMode = "full";
  let profileOnly = false;
  let coldStartOnly = false;
  let runs: number | undefined;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") mode = "quick";
    else if (a === "--smoke") mode = "smoke";
    else if (a === "--profile") profileOnly = true;
    else if (a === "--cold-start") coldStartOnly = true;
    else if (a === "--runs" && Number(argv[i + 1]) >= 1) runs = Math.floor(Number(argv[++i]));
    else if (a === "--out" && argv[i + 1]) outDir = path.resolve(argv[++i]!);
    else return { error: `unknown argument ${a}` };
  }
  if (runs !== undefined && !coldStartOnly) return { error: "--runs is for --cold-start" };
  return { mode, profileOnly, coldStartOnly, ...(runs ? { runs } : {}), ...(outDir ? { outDir } : {}) };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if ("error" in args) {
    process.stderr.write(`${args.error}\n\n${usage}`);
    return 2;
  }
  killChildrenOnExit();
  const plan = args.runs ? { ...plans[args.mode], coldStart: { ...plans[args.mode].coldStart, runs: args.runs } } : plans[args.mode];
  const tools = lookupTools();
  if (!tools.h2load && !args.coldStartOnly) {
    process.stderr.write(`h2load is required for the unary arms; install it with: ${toolInstall.h2load}\n`);
    return 2;
  }
  for (const [file, build] of [[gatewayCli, "npm run build"], [compiled("run.js"), "tsc -p bench/tsconfig.build.json"]] as const) {
    if (!existsSync(file)) {
      process.stderr.write(`${path.relative(repoRoot, file)} is missing; run ${build} first\n`);
      return 2;
    }
  }
  const cores = planCores(tools.taskset);
  const scratchDir = path.join(buildDir, "tmp", `run-${process.pid}`);
  mkdirSync(scratchDir, { recursive: true });
  const started = new Date();
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
  const ctx: BenchContext = { plan, cores, h2load: tools.h2load ?? "", scratchDir, log: (line) => process.stderr.write(`[${elapsed()}] ${line}\n`) };
  const machine = describeMachine(tools.h2load);
  ctx.log(`${args.mode} run on ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}; ${cores.description}; load average ${machine.loadAverage.start.toFixed(2)}`);

  const outDir = args.outDir ?? (args.mode === "full" ? resultsDir : path.join(buildDir, "results"));
  const stamp = started.toISOString().slice(0, 10);
  const base = args.mode === "full" ? stamp : `${stamp}-${args.mode}`;
  const checks: ReplyCheck[] = [];
  if (args.coldStartOnly) {
    try {
      const coldStart = await runColdStart(ctx);
      process.stdout.write(`\n${formatColdStart(coldStart)}\n`);
      if (args.outDir) {
        mkdirSync(args.outDir, { recursive: true });
        writeFileSync(path.join(args.outDir, `${stamp}-cold-start.json`), `${JSON.stringify({ command: `node ${path.relative(repoRoot, process.argv[1]!)} ${process.argv.slice(2).join(" ")}`, machine, coldStart }, null, 2)}\n`);
      }
      return coldStart.every((c) => c.ok) ? 0 : 1;
    } finally {
      killAll();
      rmSync(scratchDir, { recursive: true, force: true });
    }
  }
  if (args.profileOnly) {
    try {
      const file = path.join(buildDir, "results", `${base}-sluice-unary.cpuprofile`);
      const profile = await runCpuProfile(ctx, file);
      process.stdout.write(`${formatProfile(profile)}\n`);
      return 0;
    } finally {
      killAll();
      rmSync(scratchDir, { recursive: true, force: true });
    }
  }
  try {
    // Unary: every server at once (idle ones cost nothing), arms interleaved.
    // --trace-gc: the heap each full collection leaves, reported beside the RSS.
    let servers = await startAll(Object.keys(serverArgv) as ServerId[], cores.server, ["--trace-gc"]);
    const unary = await runUnary(ctx, servers);
    checks.push(...unary.map((u) => u.check));
    const fixedRate = await runFixedRate(ctx, servers, unary);
    const heapAfterGc = [...servers.values()].flatMap((s) => {
      const h = heapAfterFullGc(s.output());
      return h ? [{ server: s.name, ...h }] : [];
    });
    await stopAll(servers);

    // Streaming on fresh processes, so their peak RSS is their own.
    servers = await startAll(streamingServers, cores.server);
    for (const id of streamingServers) {
      const c = await checkStreaming(id, servers.get(id)!.url, payloads.small.message);
      for (const x of c) ctx.log(`check ${x.arm} ${x.payload}: ${x.ok ? "ok" : `FAILED: ${x.detail}`}`);
      checks.push(...c);
    }
    const serverStream = await runServerStream(ctx, servers);
    const bidi = await runBidi(ctx, servers);
    const browserTransports = await runBrowserTransports(ctx, servers.get("sluice")!);
    await stopAll(servers);

    const stalledConsumer = [];
    for (const s of plan.stall.runs) {
      ctx.log(`stalled consumer: ${s.mode}, ${s.streams} stream(s), ${plan.stall.seconds} s`);
      const r = await runStalledConsumer(s.mode, s.streams, plan.stall.seconds, cores);
      ctx.log(`stalled consumer: RSS +${r.rssGrowthMb} MB, handler paused: ${r.handlerPaused ? "yes" : "NO"}`);
      stalledConsumer.push(r);
    }

    const workers = await runWorkers(ctx);
    const proxy = await runProxy(ctx);
    const stalledLoad = [];
    for (const mode of plan.stalledLoad.modes) {
      for (const streams of plan.stalledLoad.streamCounts) {
        ctx.log(`stalled load: ${mode}, ${streams} stream(s) beside a normal client`);
        const r = await runStalledLoad(mode, streams, plan.stalledLoad.calls, cores);
        ctx.log(`stalled load: RSS +${r.rssGrowthMb} MB, normal p99 ${r.unloaded.p99Ms} → ${r.stalled.p99Ms} ms`);
        stalledLoad.push(r);
      }
    }
    ctx.log(`paced client: ${plan.pacedClient.messages} requests at most ${plan.pacedClient.perSecond}/s`);
    const pacedClient = await runPacedClient(plan.pacedClient.perSecond, plan.pacedClient.messages, cores);
    ctx.log(`paced client: ${pacedClient.achievedPerSecond}/s, ${pacedClient.echoed} echoed`);

    const coldStart = await runColdStart(ctx);
    // One-file edits in sluice dev: the save → type-error-on-screen time.
    const typeCheckLatency = await runTypeCheckLatency(args.mode === "full" ? 10 : args.mode === "quick" ? 5 : 1, ctx.log);
    const profile = plan.profileSeconds > 0 ? await runCpuProfile(ctx, path.join(outDir, `${base}-sluice-unary.cpuprofile`)) : undefined;
    if (profile) profile.file = path.relative(repoRoot, profile.file);

    machine.loadAverage.end = os.loadavg()[0]!;
    const partial: Omit<BenchResults, "failures"> = {
      schema: 1,
      mode: args.mode,
      command: `node ${path.relative(repoRoot, process.argv[1]!)} ${process.argv.slice(2).join(" ")}`.trim(),
      startedAt: started.toISOString(),
      durationSeconds: Math.round((performance.now() - t0) / 1000),
      machine,
      pinning: cores.description,
      plan,
      checks,
      unary,
      heapAfterGc,
      fixedRate,
      workers,
      proxy,
      serverStream,
      bidi,
      browserTransports,
      stalledConsumer,
      stalledLoad,
      pacedClient,
      coldStart,
      typeCheckLatency,
      ...(profile ? { profile } : {}),
    };
    const results: BenchResults = { ...partial, failures: listFailures(partial) };
    mkdirSync(outDir, { recursive: true });
    const jsonFile = path.join(outDir, `${base}.json`);
    writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(outDir, `${base}.svg`), ratioChart(results));
    process.stdout.write(`\n${formatResults(results, "plain")}\n\n`);
    process.stdout.write(`wrote ${path.relative(process.cwd(), jsonFile)} and ${base}.svg in ${results.durationSeconds} s\n`);
    return results.failures.length === 0 ? 0 : 1;
  } finally {
    killAll();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

async function startAll(ids: readonly ServerId[], pin: string[], nodeFlags: string[] = []): Promise<Map<ServerId, ServerProcess>> {
  const servers = new Map<ServerId, ServerProcess>();
  try {
    for (const id of ids) servers.set(id, await startServer(id, serverArgv[id](), { pin, nodeFlags }));
  } catch (e) {
    await stopAll(servers);
    throw e;
  }
  return servers;
}

async function stopAll(servers: Map<ServerId, ServerProcess>): Promise<void> {
  await Promise.all([...servers.values()].map((s) => s.stop()));
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
