import { writeFileSync } from "node:fs";
import path from "node:path";
import { echoPath, limitArm, referenceArm, unaryArms, type ServerId, type UnaryArm } from "../arms/arm-catalog.js";
import { payloads, type PayloadName } from "../echo-messages.js";
import { runH2load } from "../load/h2load.js";
import { unaryRequest } from "../load/unary-wire.js";
import { measureServer, ratioPerRound } from "./measure-server.js";
import type { ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";
import { checkUnary, type ReplyCheck } from "./check-replies.js";

export interface UnaryRound {
  round: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU seconds (user + system, all threads) per 1,000 requests. */
  cpuSecondsPer1k: number;
  /** h2load's CPU time over the run's wall time: near 100 means the client was the limit. */
  clientCpuPercent: number;
  /** Highest server RSS sampled during the run. */
  peakRssMb: number;
  succeeded: number;
  failed: number;
  /** Average response body bytes; equal to one checked echo's when every reply was an echo. */
  bytesPerReply: number;
  echoBytesOk: boolean;
  ratioToGrpcJs?: number;
  ratioToLimit?: number;
  /** Observability arms: throughput over the plain Sluice gRPC arm's in the same round. */
  ratioToBaseline?: number;
}

export interface UnaryResult {
  arm: string;
  label: string;
  server: ServerId;
  protocol: UnaryArm["protocol"];
  /** The arm this one is compared with (UnaryArm.baseline). */
  baseline?: string;
  payload: PayloadName;
  check: ReplyCheck;
  rounds: UnaryRound[];
  summary?: {
    rps: Spread;
    p50Ms: Spread;
    p99Ms: Spread;
    cpuSecondsPer1k: Spread;
    clientCpuPercent: Spread;
    peakRssMb: number;
    ratioToGrpcJs: Spread;
    ratioToLimit: Spread;
    ratioToBaseline?: Spread;
  };
}

/**
 * Unary arms: check each arm with a real client, warm each up, then time
 * them interleaved, round after round, with h2load.
 */
export async function runUnary(ctx: BenchContext, servers: Map<ServerId, ServerProcess>): Promise<UnaryResult[]> {
  const { plan } = ctx;
  const results: UnaryResult[] = [];
  const bodies = new Map<UnaryResult, { file: string; headers: Record<string, string> }>();
  for (const name of plan.payloads) {
    for (const arm of unaryArms) {
      const server = servers.get(arm.server)!;
      const payload = payloads[name];
      const check = await checkUnary(arm, server.url, payload);
      ctx.log(`check ${arm.id} ${name}: ${check.ok ? "ok" : `FAILED: ${check.detail}`}`);
      const result: UnaryResult = { arm: arm.id, label: arm.label, server: arm.server, protocol: arm.protocol, ...(arm.baseline ? { baseline: arm.baseline } : {}), payload: name, check, rounds: [] };
      results.push(result);
      const req = unaryRequest(arm.protocol, payload);
      const file = path.join(ctx.scratchDir, `${arm.id}-${name}.bin`);
      writeFileSync(file, req.body);
      bodies.set(result, { file, headers: req.headers });
    }
  }
  const timed = results.filter((r) => r.check.ok);
  const inFlight = plan.unary.clients * plan.unary.streams;
  const run = (r: UnaryResult, seconds: number | undefined, logFile?: string) =>
    runH2load({
      h2load: ctx.h2load,
      url: `${servers.get(r.server)!.url}${echoPath}`,
      bodyFile: bodies.get(r)!.file,
      headers: bodies.get(r)!.headers,
      clients: plan.unary.clients,
      streams: plan.unary.streams,
      ...(seconds !== undefined ? { durationSec: seconds } : { requests: plan.unary.requests ?? 100 }),
      ...(logFile ? { logFile } : {}),
      pin: ctx.cores.load,
    });
  if (plan.unary.warmupSeconds > 0) {
    for (const r of timed) await run(r, plan.unary.warmupSeconds);
    ctx.log(`warmed up ${timed.length} unary arms`);
  }
  for (let n = 1; n <= plan.rounds; n++) {
    for (const r of timed) {
      const { out: h2, cpuSeconds: cpu, peakRssMb } = await measureServer(servers.get(r.server)!, () => run(r, plan.unary.seconds, path.join(ctx.scratchDir, "h2load-log.tsv")));
      const bytesPerReply = h2.succeeded > 0 ? h2.dataBytes / h2.succeeded : 0;
      const expected = r.check.replyBytes ?? 0;
      r.rounds.push({
        round: n,
        rps: round(h2.rps, 1),
        p50Ms: round(h2.latency?.p50 ?? NaN, 3),
        p99Ms: round(h2.latency?.p99 ?? NaN, 3),
        cpuSecondsPer1k: round(h2.succeeded > 0 ? (cpu / h2.succeeded) * 1000 : NaN, 4),
        clientCpuPercent: round((h2.clientCpuSeconds / h2.seconds) * 100, 1),
        peakRssMb,
        succeeded: h2.succeeded,
        failed: h2.failed + h2.errored + h2.timeout + (h2.succeeded - h2.status2xx),
        bytesPerReply: round(bytesPerReply, 1),
        // Replies in flight when -D ends add body bytes without counting as
        // succeeded; any other difference means some replies were not echoes.
        echoBytesOk: h2.succeeded > 0 && h2.dataBytes >= h2.succeeded * expected && h2.dataBytes <= (h2.succeeded + inFlight) * expected,
      });
      ctx.log(`unary round ${n}/${plan.rounds} ${r.arm} ${r.payload}: ${Math.round(h2.rps)} req/s`);
    }
  }
  addRatios(results);
  for (const r of timed) {
    r.summary = summarizeRounds(r.rounds, ["rps", "p50Ms", "p99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToGrpcJs", "ratioToLimit", ...(r.baseline ? (["ratioToBaseline"] as const) : [])]);
  }
  return results;
}

/** Each round's throughput over the grpc-js arm's and the limit's in the same round and payload. */
function addRatios(results: UnaryResult[]): void {
  for (const r of results) {
    const ref = results.find((x) => x.arm === referenceArm && x.payload === r.payload);
    const limit = results.find((x) => x.arm === limitArm && x.payload === r.payload);
    for (const [x, ratio] of ratioPerRound(r.rounds, ref?.rounds, (y) => y.rps)) x.ratioToGrpcJs = ratio;
    for (const [x, ratio] of ratioPerRound(r.rounds, limit?.rounds, (y) => y.rps)) x.ratioToLimit = ratio;
    if (r.baseline === undefined) continue;
    const baseline = results.find((x) => x.arm === r.baseline && x.payload === r.payload);
    for (const [x, ratio] of ratioPerRound(r.rounds, baseline?.rounds, (y) => y.rps)) x.ratioToBaseline = ratio;
  }
}
