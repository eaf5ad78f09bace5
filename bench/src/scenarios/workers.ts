import { writeFileSync } from "node:fs";
import path from "node:path";
import { echoPath, sluiceArgv } from "../arms/arm-catalog.js";
import { payloads } from "../echo-messages.js";
import { runH2load } from "../load/h2load.js";
import { unaryRequest } from "../load/unary-wire.js";
import { treeCpuSeconds, treeRssBytes } from "../process/proc-stats.js";
import { startServer, type ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { mib, round, type BenchContext } from "./bench-context.js";

export interface WorkersRound {
  round: number;
  rps: number;
  p99Ms: number;
  /** CPU seconds of the whole process tree (primary and workers) per 1,000 requests. */
  cpuSecondsPer1k: number;
  peakRssMb: number;
  clientCpuPercent: number;
  /** h2load's failed and errored requests. */
  failed: number;
  ratioToOne?: number;
}

export interface WorkersResult {
  workers: number;
  rounds: WorkersRound[];
  summary?: { rps: Spread; p99Ms: Spread; cpuSecondsPer1k: Spread; clientCpuPercent: Spread; ratioToOne: Spread; peakRssMb: number };
}

/**
 * `sluice start` with 1 process against `--workers 2`, gRPC unary, the same
 * h2load on core 0 for both. The gateway processes are not pinned: the
 * workers take both cores, and share core 0 with the load generator.
 */
export async function runWorkers(ctx: BenchContext): Promise<WorkersResult[]> {
  const { plan } = ctx;
  const req = unaryRequest("grpc", payloads.small);
  const body = path.join(ctx.scratchDir, "workers.bin");
  writeFileSync(body, req.body);
  const arms = [1, 2];
  const servers = new Map<number, ServerProcess>();
  try {
    for (const n of arms) {
      servers.set(n, await startServer(`sluice --workers ${n}`, [...sluiceArgv(), ...(n > 1 ? ["--workers", String(n)] : [])], { pin: [] }));
    }
    const results: WorkersResult[] = arms.map((workers) => ({ workers, rounds: [] }));
    const run = (server: ServerProcess, seconds: number) => runH2load({
      h2load: ctx.h2load, url: `${server.url}${echoPath}`, bodyFile: body, headers: req.headers,
      clients: plan.workers.clients, streams: plan.unary.streams, durationSec: seconds,
      logFile: path.join(ctx.scratchDir, "workers-log.tsv"), pin: ctx.cores.load,
    });
    for (const r of results) await run(servers.get(r.workers)!, plan.unary.warmupSeconds || 0.5);
    for (let n = 1; n <= plan.rounds; n++) {
      for (const r of results) {
        const server = servers.get(r.workers)!;
        const cpu0 = treeCpuSeconds(server.pid);
        let peak = 0;
        const sampler = setInterval(() => (peak = Math.max(peak, treeRssBytes(server.pid))), 250);
        const h2 = await run(server, plan.workers.seconds);
        clearInterval(sampler);
        const cpu = treeCpuSeconds(server.pid) - cpu0;
        r.rounds.push({
          round: n,
          rps: round(h2.rps, 1),
          failed: h2.failed + h2.errored,
          p99Ms: round(h2.latency?.p99 ?? NaN, 3),
          cpuSecondsPer1k: round(h2.succeeded > 0 ? (cpu / h2.succeeded) * 1000 : NaN, 4),
          peakRssMb: mib(peak),
          clientCpuPercent: round((h2.clientCpuSeconds / h2.seconds) * 100, 1),
        });
        ctx.log(`workers round ${n}/${plan.rounds} --workers ${r.workers}: ${Math.round(h2.rps)} req/s`);
      }
    }
    const one = results.find((r) => r.workers === 1)!;
    for (const r of results) {
      for (const x of r.rounds) {
        const base = one.rounds.find((y) => y.round === x.round)?.rps;
        if (base) x.ratioToOne = round(x.rps / base, 3);
      }
      r.summary = summarizeRounds(r.rounds, ["rps", "p99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToOne"]);
    }
    return results;
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
}
