import { echoStreamPath, referenceArm, streamingServers, type ServerId } from "../arms/arm-catalog.js";
import { streamRequestFrame } from "../echo-messages.js";
import { runLoadWorker } from "../load/run-load-worker.js";
import { measureServer, ratioPerRound } from "./measure-server.js";
import type { ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";

export interface StreamRound {
  round: number;
  messagesPerSec: number;
  seconds: number;
  /** Duration of a call, open to trailers (one call: the run itself). */
  callP50Ms: number;
  callP99Ms: number;
  /** Server CPU seconds per 1,000 messages. */
  cpuSecondsPer1k: number;
  /** The lean client's CPU over wall time: near 100 means the client was the limit. */
  clientCpuPercent: number;
  peakRssMb: number;
  ok: boolean;
  problem?: string;
  ratioToGrpcJs?: number;
}

export interface StreamResult {
  server: ServerId;
  calls: number;
  messagesPerCall: number;
  rounds: StreamRound[];
  summary?: { messagesPerSec: Spread; callP50Ms: Spread; callP99Ms: Spread; cpuSecondsPer1k: Spread; clientCpuPercent: Spread; peakRssMb: number; ratioToGrpcJs: Spread };
}

/**
 * Server streaming, Sluice against grpc-js with the same lean client: one
 * call streaming many messages, and many concurrent calls on one connection.
 */
export async function runServerStream(ctx: BenchContext, servers: Map<ServerId, ServerProcess>): Promise<StreamResult[]> {
  const { plan } = ctx;
  const variants = [
    { calls: 1, messagesPerCall: plan.serverStream.singleCallMessages },
    { calls: plan.serverStream.concurrentCalls, messagesPerCall: plan.serverStream.perCallMessages },
  ];
  const results: StreamResult[] = [];
  for (const v of variants) for (const server of streamingServers) results.push({ server, ...v, rounds: [] });
  const run = (r: StreamResult, messagesPerCall: number) =>
    runLoadWorker(
      {
        kind: "stream",
        url: servers.get(r.server)!.url,
        path: echoStreamPath,
        calls: r.calls,
        countPerCall: messagesPerCall,
        request: streamRequestFrame(messagesPerCall).toString("base64"),
      },
      ctx.cores.load,
      120_000,
    );
  for (const r of results) await run(r, Math.max(10, Math.round(r.messagesPerCall / 5)));
  for (let n = 1; n <= plan.rounds; n++) {
    for (const r of results) {
      const { out, cpuSeconds: cpu, peakRssMb } = await measureServer(servers.get(r.server)!, () => run(r, r.messagesPerCall));
      const ok = out.okCalls === r.calls && out.messages === out.expected;
      r.rounds.push({
        round: n,
        messagesPerSec: round(out.messagesPerSec, 0),
        seconds: round(out.seconds, 3),
        callP50Ms: round(out.callLatency.p50, 1),
        callP99Ms: round(out.callLatency.p99, 1),
        cpuSecondsPer1k: round(out.messages > 0 ? (cpu / out.messages) * 1000 : NaN, 4),
        clientCpuPercent: round((out.clientCpuSeconds / out.seconds) * 100, 1),
        peakRssMb,
        ok,
        ...(out.problem ? { problem: out.problem } : {}),
      });
      ctx.log(`server stream round ${n}/${plan.rounds} ${r.server} ${r.calls}×${r.messagesPerCall}: ${Math.round(out.messagesPerSec)} msg/s${ok ? "" : ` FAILED: ${out.problem}`}`);
    }
  }
  for (const r of results) {
    const ref = results.find((x) => x.server === referenceArm && x.calls === r.calls);
    for (const [x, ratio] of ratioPerRound(r.rounds, ref?.rounds, (y) => y.messagesPerSec)) x.ratioToGrpcJs = ratio;
    r.summary = summarizeRounds(r.rounds, ["messagesPerSec", "callP50Ms", "callP99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToGrpcJs"]);
  }
  return results;
}
