import WebSocket from "ws";
import { percentiles } from "../report/summary.js";
import type { BidiLoadResult } from "./bidi-load.js";
import { WebFrameCounter } from "./web-frame-counter.js";

export interface WsBidiLoadSpec {
  kind: "ws-bidi";
  url: string;
  path: string;
  /** Concurrent EchoBidi calls, each on its own WebSocket. */
  streams: number;
  seconds: number;
  /** The gRPC-framed EchoRequest, base64. */
  request: string;
}

const headerBlock = Buffer.from("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n");
const endOfStream = Buffer.from([1]);

/**
 * Bidi echo ping-pong over gRPC-Web on WebSockets (sub-protocol
 * grpc-websockets), the same loop as the HTTP/2 bidi load: every call sends
 * one message, waits for its echo, sends the next until the time is up,
 * then half-closes (0x01) and expects status 0 in the trailer frame.
 */
export async function runWsBidiLoad(spec: WsBidiLoadSpec): Promise<BidiLoadResult> {
  const message = Buffer.concat([Buffer.from([0]), Buffer.from(spec.request, "base64")]);
  const url = `${spec.url.replace(/^http/, "ws")}${spec.path}`;
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
  const sockets = await Promise.all(
    Array.from({ length: spec.streams }, () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url, ["grpc-websockets"], { perMessageDeflate: false });
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      }),
    ),
  );
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  const streams = sockets.map(
    (ws) =>
      new Promise<{ code: string; echoes: number }>((resolve) => {
        const counter = new WebFrameCounter(true);
        let sentAt = performance.now();
        let echoes = 0;
        ws.on("message", (data: Buffer) => {
          const done = counter.push(data);
          if (done === 0) return;
          const now = performance.now();
          echoes += done;
          record(now - sentAt);
          if (now < deadline) {
            sentAt = now;
            ws.send(message);
          } else {
            ws.send(endOfStream);
          }
        });
        ws.on("close", () => resolve({ code: counter.status ?? "closed without a trailer", echoes }));
        ws.on("error", () => {});
        ws.send(headerBlock);
        ws.send(message);
      }),
  );
  const outcomes = await Promise.all(streams);
  const seconds = (performance.now() - started) / 1000;
  const bad = outcomes.find((o) => o.code !== "0");
  return {
    roundTrips: n,
    seconds,
    roundTripsPerSec: n / seconds,
    ...(n > 0 ? { latency: percentiles(latencies.subarray(0, n)) } : {}),
    okStreams: outcomes.filter((o) => o.code === "0").length,
    ...(bad ? { problem: `status ${bad.code} after ${bad.echoes} echoes` } : {}),
  };
}
