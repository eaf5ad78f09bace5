import { writeFileSync } from "node:fs";
import path from "node:path";
import { echoPath, referenceArm, type ServerId } from "../arms/arm-catalog.js";
import { payloads } from "../echo-messages.js";
import { runH2load } from "../load/h2load.js";
import { unaryRequest } from "../load/unary-wire.js";
import type { ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { measureServer } from "./measure-server.js";
import { round, type BenchContext } from "./bench-context.js";
import type { UnaryResult } from "./unary.js";

export interface FixedRateRound {
  round: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  cpuSecondsPer1k: number;
  peakRssMb: number;
  /** h2load's failed and errored requests. */
  failed: number;
}

export interface FixedRateResult {
  arm: string;
  server: ServerId;
  /** Half of grpc-js's saturation rate in the unary rounds of this run. */
  targetRps: number;
  rounds: FixedRateRound[];
  summary?: { achievedRps: Spread; p50Ms: Spread; p99Ms: Spread; cpuSecondsPer1k: Spread; peakRssMb: number };
}

/**
 * Latency at a fixed rate: Sluice gRPC and grpc-js both answer half of the
 * rate grpc-js sustained at saturation (h2load --rps), so neither queues
 * and p99 shows the cost of a call rather than the length of a queue.
 */
export async function runFixedRate(ctx: BenchContext, servers: Map<ServerId, ServerProcess>, unary: UnaryResult[]): Promise<FixedRateResult[]> {
  const reference = unary.find((u) => u.arm === referenceArm && u.payload === "small")?.summary?.rps.median;
  if (reference === undefined || !Number.isFinite(reference)) return [];
  const { plan } = ctx;
  const clients = plan.unary.clients;
  const perClient = Math.max(1, Math.floor(reference / 2 / clients));
  const targetRps = perClient * clients;
  const arms: { arm: string; server: ServerId }[] = [
    { arm: "grpc-js", server: "grpc-js" },
    { arm: "sluice-grpc", server: "sluice" },
  ];
  const req = unaryRequest("grpc", payloads.small);
  const body = path.join(ctx.scratchDir, "fixed-rate.bin");
  writeFileSync(body, req.body);
  const results: FixedRateResult[] = arms.map((a) => ({ ...a, targetRps, rounds: [] }));
  for (let n = 1; n <= plan.rounds; n++) {
    for (const r of results) {
      const server = servers.get(r.server)!;
      const { out: h2, cpuSeconds, peakRssMb } = await measureServer(server, () => runH2load({
        h2load: ctx.h2load, url: `${server.url}${echoPath}`, bodyFile: body, headers: req.headers,
        clients, streams: plan.unary.streams, durationSec: plan.fixedRate.seconds, rpsPerClient: perClient,
        logFile: path.join(ctx.scratchDir, "fixed-rate-log.tsv"), pin: ctx.cores.load,
      }));
      r.rounds.push({
        round: n,
        achievedRps: round(h2.rps, 1),
        failed: h2.failed + h2.errored,
        p50Ms: round(h2.latency?.p50 ?? NaN, 3),
        p99Ms: round(h2.latency?.p99 ?? NaN, 3),
        cpuSecondsPer1k: round(h2.succeeded > 0 ? (cpuSeconds / h2.succeeded) * 1000 : NaN, 4),
        peakRssMb,
      });
      ctx.log(`fixed rate round ${n}/${plan.rounds} ${r.arm} at ${targetRps} req/s: p50 ${h2.latency?.p50.toFixed(2)} ms, p99 ${h2.latency?.p99.toFixed(2)} ms`);
    }
  }
  for (const r of results) r.summary = summarizeRounds(r.rounds, ["achievedRps", "p50Ms", "p99Ms", "cpuSecondsPer1k"]);
  return results;
}
