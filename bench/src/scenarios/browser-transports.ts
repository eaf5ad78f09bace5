import { echoBidiPath, echoStreamPath } from "../arms/arm-catalog.js";
import { payloads, streamRequestFrame } from "../echo-messages.js";
import { runLoadWorker } from "../load/run-load-worker.js";
import type { ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";
import type { BidiRound } from "./bidi.js";
import { measureServer, ratioPerRound } from "./measure-server.js";
import type { StreamRound } from "./server-stream.js";

export interface WebStreamResult {
  /** gRPC-Web binary, or text (base64) as the official client's default mode speaks it. */
  client: "grpc-web" | "grpc-web-text";
  calls: number;
  messagesPerCall: number;
  rounds: (Omit<StreamRound, "ratioToGrpcJs"> & { ratioToBinary?: number })[];
  summary?: { messagesPerSec: Spread; callP50Ms: Spread; callP99Ms: Spread; cpuSecondsPer1k: Spread; clientCpuPercent: Spread; peakRssMb: number; ratioToBinary: Spread };
}

export interface TransportBidiResult {
  /** gRPC over HTTP/2 streams on one connection, or gRPC-Web over one WebSocket per call. */
  transport: "http2" | "websocket";
  streams: number;
  rounds: (Omit<BidiRound, "ratioToGrpcJs"> & { ratioToHttp2?: number })[];
  summary?: { roundTripsPerSec: Spread; p50Ms: Spread; p99Ms: Spread; cpuSecondsPer1k: Spread; clientCpuPercent: Spread; peakRssMb: number; ratioToHttp2: Spread };
}

export interface BrowserTransportsResult {
  serverStream: WebStreamResult[];
  bidi: TransportBidiResult[];
}

/**
 * The browser transports against their closest equivalents, on the Sluice
 * process of the streaming arms, with lean Node clients: server streaming
 * to a gRPC-Web text client against a binary one (HTTP/1.1, where XHR
 * clients run), and bidi ping-pong over WebSocket against gRPC over HTTP/2.
 */
export async function runBrowserTransports(ctx: BenchContext, sluice: ServerProcess): Promise<BrowserTransportsResult> {
  const { plan } = ctx;
  const serverStream: WebStreamResult[] = [];
  const variants = [
    { calls: 1, messagesPerCall: plan.serverStream.singleCallMessages },
    { calls: plan.serverStream.concurrentCalls, messagesPerCall: plan.serverStream.perCallMessages },
  ];
  for (const v of variants) for (const client of ["grpc-web", "grpc-web-text"] as const) serverStream.push({ client, ...v, rounds: [] });
  const stream = (r: WebStreamResult, messagesPerCall: number) =>
    runLoadWorker(
      { kind: "web-stream", text: r.client === "grpc-web-text", url: sluice.url, path: echoStreamPath, calls: r.calls, countPerCall: messagesPerCall, request: streamRequestFrame(messagesPerCall).toString("base64") },
      ctx.cores.load,
      120_000,
    );

  const bidi: TransportBidiResult[] = [];
  for (const streams of plan.bidi.streamCounts) for (const transport of ["http2", "websocket"] as const) bidi.push({ transport, streams, rounds: [] });
  const pingPong = (r: TransportBidiResult, seconds: number) =>
    runLoadWorker(
      { kind: r.transport === "http2" ? "bidi" : "ws-bidi", url: sluice.url, path: echoBidiPath, streams: r.streams, seconds, request: payloads.small.frame.toString("base64") },
      ctx.cores.load,
      (seconds + 60) * 1000,
    );

  for (const r of serverStream) await stream(r, Math.max(10, Math.round(r.messagesPerCall / 5)));
  for (const r of bidi) await pingPong(r, Math.min(1, plan.bidi.seconds));
  for (let n = 1; n <= plan.rounds; n++) {
    for (const r of serverStream) {
      const { out, cpuSeconds: cpu, peakRssMb } = await measureServer(sluice, () => stream(r, r.messagesPerCall));
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
      ctx.log(`browser transports round ${n}/${plan.rounds} ${r.client} stream ${r.calls}×${r.messagesPerCall}: ${Math.round(out.messagesPerSec)} msg/s${ok ? "" : ` FAILED: ${out.problem}`}`);
    }
    for (const r of bidi) {
      const { out, cpuSeconds: cpu, peakRssMb } = await measureServer(sluice, () => pingPong(r, plan.bidi.seconds));
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
      ctx.log(`browser transports round ${n}/${plan.rounds} bidi ${r.transport} ${r.streams} stream(s): ${Math.round(out.roundTripsPerSec)} round trips/s${ok ? "" : ` FAILED: ${out.problem}`}`);
    }
  }
  for (const r of serverStream) {
    const ref = serverStream.find((x) => x.client === "grpc-web" && x.calls === r.calls);
    for (const [x, ratio] of ratioPerRound(r.rounds, ref?.rounds, (y) => y.messagesPerSec)) x.ratioToBinary = ratio;
    r.summary = summarizeRounds(r.rounds, ["messagesPerSec", "callP50Ms", "callP99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToBinary"]);
  }
  for (const r of bidi) {
    const ref = bidi.find((x) => x.transport === "http2" && x.streams === r.streams);
    for (const [x, ratio] of ratioPerRound(r.rounds, ref?.rounds, (y) => y.roundTripsPerSec)) x.ratioToHttp2 = ratio;
    r.summary = summarizeRounds(r.rounds, ["roundTripsPerSec", "p50Ms", "p99Ms", "cpuSecondsPer1k", "clientCpuPercent", "ratioToHttp2"]);
  }
  return { serverStream, bidi };
}
