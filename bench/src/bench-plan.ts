import type { PayloadName } from "./echo-messages.js";
import type { StallMode } from "./scenarios/stalled-consumer.js";

export type BenchMode = "full" | "quick" | "smoke";

/** How much of everything one run does. The three modes differ only in these numbers. */
export interface BenchPlan {
  mode: BenchMode;
  /** Interleaved rounds (A B C A B C ...); medians and ranges are over these. */
  rounds: number;
  payloads: PayloadName[];
  unary: {
    /** h2load -c and -m: connections, and concurrent streams on each. */
    clients: number;
    streams: number;
    warmupSeconds: number;
    /** Timed runs last this long (h2load -D) ... */
    seconds?: number;
    /** ... or send this many requests (h2load -n), for the smoke run. */
    requests?: number;
  };
  serverStream: {
    /** One call streaming this many messages. */
    singleCallMessages: number;
    /** Concurrent calls, each streaming perCallMessages. */
    concurrentCalls: number;
    perCallMessages: number;
  };
  bidi: { streamCounts: number[]; seconds: number };
  /** Latency at half of grpc-js's saturation rate: seconds per run. */
  fixedRate: { seconds: number };
  /** sluice start --workers 2 against one process: seconds per run, h2load connections. */
  workers: { seconds: number; clients: number };
  /** Proxy route and ctx.upstream against a direct call: seconds per run, the fixed rate, messages streamed. */
  proxy: { seconds: number; fixedRps: number; streamMessages: number };
  stall: { seconds: number; runs: { mode: StallMode; streams: number }[] };
  /** Stalled consumers beside a normal client (scenarios/stalled-load.ts): per mode, these stream counts; `calls` normal calls measured. */
  stalledLoad: { modes: StallMode[]; streamCounts: number[]; calls: number };
  /** A client faster than messagesPerSecond (scenarios/paced-client.ts). */
  pacedClient: { perSecond: number; messages: number };
  coldStart: { runs: number; generatedFunctions: number };
  /** Seconds of CPU profile of the Sluice gRPC unary arm; 0 skips it. */
  profileSeconds: number;
}

const allStalls: BenchPlan["stall"]["runs"] = [
  { mode: "flow-control", streams: 1 },
  { mode: "flow-control", streams: 100 },
  { mode: "socket", streams: 1 },
  { mode: "socket", streams: 100 },
];

export const plans: Record<BenchMode, BenchPlan> = {
  full: {
    mode: "full",
    rounds: 3,
    payloads: ["small", "10KiB"],
    unary: { clients: 8, streams: 8, warmupSeconds: 2, seconds: 5 },
    serverStream: { singleCallMessages: 100_000, concurrentCalls: 64, perCallMessages: 2_000 },
    bidi: { streamCounts: [1, 64], seconds: 4 },
    fixedRate: { seconds: 5 },
    workers: { seconds: 5, clients: 8 },
    proxy: { seconds: 5, fixedRps: 2000, streamMessages: 50_000 },
    stall: { seconds: 30, runs: allStalls },
    stalledLoad: { modes: ["flow-control", "socket"], streamCounts: [1, 100, 1000], calls: 1000 },
    pacedClient: { perSecond: 500, messages: 5000 },
    coldStart: { runs: 3, generatedFunctions: 50 },
    profileSeconds: 10,
  },
  quick: {
    mode: "quick",
    rounds: 3,
    payloads: ["small"],
    unary: { clients: 8, streams: 8, warmupSeconds: 0.5, seconds: 1 },
    serverStream: { singleCallMessages: 20_000, concurrentCalls: 64, perCallMessages: 300 },
    bidi: { streamCounts: [1, 64], seconds: 1 },
    fixedRate: { seconds: 1 },
    workers: { seconds: 1, clients: 8 },
    proxy: { seconds: 1, fixedRps: 2000, streamMessages: 10_000 },
    stall: { seconds: 3, runs: allStalls },
    stalledLoad: { modes: ["flow-control", "socket"], streamCounts: [1, 100, 1000], calls: 200 },
    pacedClient: { perSecond: 500, messages: 2000 },
    coldStart: { runs: 1, generatedFunctions: 50 },
    profileSeconds: 0,
  },
  smoke: {
    mode: "smoke",
    rounds: 1,
    payloads: ["small", "10KiB"],
    unary: { clients: 2, streams: 4, warmupSeconds: 0, requests: 200 },
    serverStream: { singleCallMessages: 200, concurrentCalls: 64, perCallMessages: 10 },
    bidi: { streamCounts: [1, 8], seconds: 0.3 },
    fixedRate: { seconds: 0.3 },
    workers: { seconds: 0.3, clients: 2 },
    proxy: { seconds: 0.3, fixedRps: 200, streamMessages: 200 },
    stall: { seconds: 3, runs: [{ mode: "flow-control", streams: 1 }] },
    stalledLoad: { modes: ["socket"], streamCounts: [1], calls: 30 },
    pacedClient: { perSecond: 100, messages: 150 },
    coldStart: { runs: 1, generatedFunctions: 50 },
    profileSeconds: 0,
  },
};
