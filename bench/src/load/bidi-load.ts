import { percentiles, type Percentiles } from "../report/summary.js";
import { connectLean, openGrpcCall } from "./grpc-call.js";
import { GrpcFrameCounter } from "./grpc-frame-counter.js";

export interface BidiLoadSpec {
  kind: "bidi";
  url: string;
  path: string;
  /** Concurrent EchoBidi calls on one connection, each doing ping-pong. */
  streams: number;
  seconds: number;
  /** The gRPC-framed EchoRequest, base64. */
  request: string;
}

export interface BidiLoadResult {
  roundTrips: number;
  seconds: number;
  roundTripsPerSec: number;
  /** Time from writing a message to reading its echo, in ms. */
  latency?: Percentiles;
  okStreams: number;
  problem?: string;
}

/**
 * Bidi echo: every stream sends one message, waits for its echo, and sends
 * the next, until the time is up; then it half-closes and expects status 0.
 */
export async function runBidiLoad(spec: BidiLoadSpec): Promise<BidiLoadResult> {
  const session = await connectLean(spec.url);
  const request = Buffer.from(spec.request, "base64");
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const record = (ms: number) => {
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = ms;
  };
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  const streams = Array.from({ length: spec.streams }, async () => {
    const { stream, status } = openGrpcCall(session, spec.path);
    const counter = new GrpcFrameCounter();
    let sentAt = performance.now();
    let echoes = 0;
    stream.on("data", (chunk: Buffer) => {
      const done = counter.push(chunk);
      if (done === 0) return;
      const now = performance.now();
      echoes += done;
      record(now - sentAt);
      if (now < deadline) {
        sentAt = now;
        stream.write(request);
      } else {
        stream.end();
      }
    });
    stream.write(request);
    const code = await status;
    return { code, echoes };
  });
  const outcomes = await Promise.all(streams);
  const seconds = (performance.now() - started) / 1000;
  session.close();
  const bad = outcomes.find((o) => o.code !== "0");
  return {
    roundTrips: n,
    seconds,
    roundTripsPerSec: n / seconds,
    ...(n > 0 ? { latency: percentiles(latencies.subarray(0, n)) } : {}),
    okStreams: outcomes.length - outcomes.filter((o) => o.code !== "0").length,
    ...(bad ? { problem: `status ${bad.code} after ${bad.echoes} echoes` } : {}),
  };
}
