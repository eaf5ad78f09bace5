import { echoBidiPath, referenceArm, streamingServers, type ServerId } from "../arms/arm-catalog.js";
import { payloads } from "../echo-messages.js";
import { runLoadWorker } from "../load/run-load-worker.js";
import { measureServer, ratioPerRound } from "./measure-server.js";
import type { ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";

export interface BidiRound {
  round: number;
  roundTripsPerSec: number;
  /** Per message: from writing it to reading its echo. */
  p50Ms: number;
  p99Ms: number;
  cpuSecondsPer1k: number;
  clientCpuPercent: number;
  peakRssMb: number;
  ok: boolean;
  problem?: string;
  ratioToGrpcJs?: number;
}

export interface BidiResult {
  server: ServerId;
  streams: number;
  rounds: BidiRound[];
  summary?: { roundTripsPerSec: Spread; p50Ms: Spread; p99Ms: Spread; cpuSecondsPer1k: Spread; clientCpuPercent: Spread; peakRssMb: number; ratioToGrpcJs: Spread };
}

/** Bidi echo ping-pong, Sluice against grpc-js with the same lean client. */
export async function runBidi(ctx: BenchContext, servers: Map<ServerId, ServerProcess>): Promise<BidiResult[]> {
  const { plan } = ctx;
  const results: BidiResult[] = [];
  for (const streams of plan.bidi.streamCounts) for (const server of streamingServers) results.push({ server, streams, rounds: [] });
  const run = (r: BidiResult, seconds: number) =>
    runLoadWorker(
      { kind: "bidi", url: servers.get(r.server)!.url, path: echoBidiPath, streams: r.streams, seconds, request: payloads.small.frame.toString("base64") },
      ctx.cores.load,
      (seconds + 60) * 1000,
    );
  for (const r of results) await run(r, Math.min(1, plan.bidi.seconds));
  for (let n = 1; n <= plan.rounds; n++) {
    for (const r of results) {
      const { out, cpuSeconds: cpu, peakRssMb } = await measureServer(servers.get(r.server)!, () => run(r, plan.bidi.seconds));
      const ok = out.okStreams === r.streams && out.roundTrips > 0;
      r.rounds.push({
        round: n,
        roundTripsPerSec: round(out.roundTripsPerSec, 0),
        p50Ms: round(out.latency?.p50 ?? NaN, 3),
        p99Ms: round(out.latency?.p99 ?? NaN, 3),
        cpuSecondsPer1k: round(out.roundTrips > 0 ? (cpu / out.roundTrips) * 1000 : NaN, 4),
        clientCpuPercent: round((out.clientCpuSeconds / out.seconds) * 100, 1),
        peakRssMb,
        ok,
        ...(out.problem ? { problem: out.problem } : {}),
      });
      ctx.log(`bidi round ${n}/${plan.rounds} ${r.server} ${r.streams} stream(s): ${Math.round(out.roundTripsPerSec)} round trips/s${ok ? "" : ` FAILED: ${out.problem}`}`);
    }
  }
  for (const r of results) {
    const ref = results.find((x) => x.server === referenceArm && x.streams === r.streams);
    for (const [x, ratio] of ratioPerRound(r.rounds, ref?.rounds, (y) => y.roundTripsPerSec)) x.ratioToGrpcJs = ratio;
    r.summary = summarizeRounds(r.rounds, ["roundTripsPerSec", "p50Ms", "p99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToGrpcJs"]);
  }
  return results;
}
