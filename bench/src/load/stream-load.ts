import { percentiles, type Percentiles } from "../report/summary.js";
import { connectLean, openGrpcCall } from "./grpc-call.js";
import { GrpcFrameCounter } from "./grpc-frame-counter.js";

export interface StreamLoadSpec {
  kind: "stream";
  url: string;
  path: string;
  /** Concurrent EchoStream calls on one connection. */
  calls: number;
  /** Messages each call asks for (encoded in the request). */
  countPerCall: number;
  /** The gRPC-framed StreamRequest, base64. */
  request: string;
}

export interface StreamLoadResult {
  messages: number;
  expected: number;
  seconds: number;
  messagesPerSec: number;
  okCalls: number;
  /** Time from opening a call to its end (trailers), in ms. */
  callLatency: Percentiles;
  /** The first status other than 0, or a short count. */
  problem?: string;
}

/** Server streaming: `calls` concurrent calls, each reading its messages to the end. */
export async function runStreamLoad(spec: StreamLoadSpec): Promise<StreamLoadResult> {
  const session = await connectLean(spec.url);
  const request = Buffer.from(spec.request, "base64");
  const started = performance.now();
  const calls = Array.from({ length: spec.calls }, async () => {
    const { stream, status } = openGrpcCall(session, spec.path);
    const counter = new GrpcFrameCounter();
    let received = 0;
    stream.on("data", (chunk: Buffer) => (received += counter.push(chunk)));
    const opened = performance.now();
    stream.end(request);
    const code = await status;
    return { status: code, count: received, ms: performance.now() - opened };
  });
  const outcomes = await Promise.all(calls);
  const seconds = (performance.now() - started) / 1000;
  session.close();
  const messages = outcomes.reduce((n, o) => n + o.count, 0);
  const expected = spec.calls * spec.countPerCall;
  const ok = outcomes.filter((o) => o.status === "0" && o.count === spec.countPerCall).length;
  const bad = outcomes.find((o) => o.status !== "0" || o.count !== spec.countPerCall);
  return {
    messages,
    expected,
    seconds,
    messagesPerSec: messages / seconds,
    okCalls: ok,
    callLatency: percentiles(Float64Array.from(outcomes, (o) => o.ms)),
    ...(bad ? { problem: `status ${bad.status}, ${bad.count} of ${spec.countPerCall} messages` } : {}),
  };
}
