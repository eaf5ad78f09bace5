import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "../paths.js";
import { percentiles } from "../report/summary.js";
import type { StreamLoadResult } from "./stream-load.js";
import { WebFrameCounter } from "./web-frame-counter.js";

export interface WebStreamLoadSpec {
  kind: "web-stream";
  /** application/grpc-web-text (base64 both ways, as the official client's default mode), else binary gRPC-Web. */
  text: boolean;
  url: string;
  path: string;
  /** Concurrent calls, each on its own HTTP/1.1 connection. */
  calls: number;
  countPerCall: number;
  /** The gRPC-framed StreamRequest, base64. */
  request: string;
}

interface Base64Decoder {
  push(chunk: Uint8Array): Buffer | { kind: string };
}

/**
 * Server streaming to a lean gRPC-Web client over HTTP/1.1, in binary or
 * text mode; a text client decodes the body with the gateway's own
 * Base64Decoder (each response piece is padded on its own, so Node's
 * Buffer.from(…, "base64") alone would stop at the first "=").
 */
export async function runWebStreamLoad(spec: WebStreamLoadSpec): Promise<StreamLoadResult> {
  const decoderModule = pathToFileURL(path.join(repoRoot, "dist/src/protocol/grpc-web/base64-decoder.js")).href;
  const { Base64Decoder } = (await import(decoderModule)) as { Base64Decoder: new () => Base64Decoder };
  const frame = Buffer.from(spec.request, "base64");
  const body = spec.text ? Buffer.from(frame.toString("base64"), "latin1") : frame;
  const type = spec.text ? "application/grpc-web-text" : "application/grpc-web+proto";
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.calls });
  const url = new URL(spec.path, spec.url);
  const started = performance.now();
  const calls = Array.from({ length: spec.calls }, () =>
    new Promise<{ status: string; count: number; ms: number }>((resolve) => {
      const opened = performance.now();
      const counter = new WebFrameCounter();
      const decoder = spec.text ? new Base64Decoder() : undefined;
      let count = 0;
      let problem: string | undefined;
      const req = http.request(url, { method: "POST", agent, headers: { "content-type": type, accept: type, "x-grpc-web": "1", "content-length": body.byteLength } }, (res) => {
        res.on("data", (chunk: Buffer) => {
          if (decoder === undefined) return void (count += counter.push(chunk));
          const bytes = decoder.push(chunk);
          if (Buffer.isBuffer(bytes)) count += counter.push(bytes);
          else problem ??= `not base64: ${bytes.kind}`;
        });
        res.on("end", () => resolve({ status: problem ?? counter.status ?? `HTTP ${res.statusCode}, no trailer`, count, ms: performance.now() - opened }));
        res.on("error", (e) => resolve({ status: e.message, count, ms: performance.now() - opened }));
      });
      req.on("error", (e) => resolve({ status: e.message, count, ms: performance.now() - opened }));
      req.end(body);
    }),
  );
  const outcomes = await Promise.all(calls);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const messages = outcomes.reduce((n, o) => n + o.count, 0);
  const bad = outcomes.find((o) => o.status !== "0" || o.count !== spec.countPerCall);
  return {
    messages,
    expected: spec.calls * spec.countPerCall,
    seconds,
    messagesPerSec: messages / seconds,
    okCalls: outcomes.filter((o) => o.status === "0" && o.count === spec.countPerCall).length,
    callLatency: percentiles(Float64Array.from(outcomes, (o) => o.ms)),
    ...(bad ? { problem: `status ${bad.status}, ${bad.count} of ${spec.countPerCall} messages` } : {}),
  };
}
