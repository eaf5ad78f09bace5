// Client streams of gzip messages that each inflate a thousandfold (1 MiB of
// zeros in about 1 KiB), to a handler or an upstream that is not reading:
// the gateway must keep them compressed and let HTTP/2 flow control stop the
// client, not inflate them all into memory that no overload guard sees.
// Real node:http2 clients on loopback against the gateway process.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { ChunkSchema, UploadSummarySchema } from "../gen/flow/v1/flow_pb.js";
import { ProbeRequestSchema, ProbeService, ProbeSummarySchema } from "../gen/probe/v1/probe_pb.js";
import { pause, type FlowGateway } from "../support/flow-gateway.js";
import { startFlowProxy } from "../support/flow-proxy.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope, parseEnvelopes } from "../support/raw-http.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";

const MiB = 1024 * 1024;
/**
 * ~210 KiB on the wire, 199 MiB or more inflated: more than the stream's
 * window (64 KiB) and what node:http2 buffers for a paused stream (about as
 * much) take, so flow control has to stop the client.
 */
const messages = 200;
/** Below the inflated total by far: a few messages' worth, and the process's own noise. */
const maxGrowth = 64 * MiB;

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
}

const gzipped = <S extends DescMessage>(schema: S, init: Parameters<typeof create<S>>[1]) => envelope(gzipSync(toBinary(schema, create(schema, init))), 1);

/**
 * One gRPC client stream with grpc-encoding gzip, every envelope written at
 * once: node:http2 sends them as the gateway's window allows.
 */
function gzipStream(url: string, path: string, envelopes: Buffer[]) {
  const session = http2.connect(url);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", "grpc-encoding": "gzip", te: "trailers" });
  let closed = false;
  let error: Error | undefined;
  let trailers: http2.IncomingHttpHeaders = {};
  const chunks: Buffer[] = [];
  stream.on("error", (e) => (error = e));
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("trailers", (t) => (trailers = t));
  const done = new Promise<void>((resolve) => stream.on("close", () => {
    closed = true;
    session.close();
    resolve();
  }));
  for (const e of envelopes) stream.write(e);
  return {
    /** Fails unless the stream is open, and the gateway has not taken all it was sent (writes complete once their frames are out). */
    assertHeldBack() {
      assert.ok(!closed && error === undefined, `the stream ended early: ${error?.message ?? "closed"}`);
      assert.ok(stream.writableLength > 0, "the gateway took every message though nothing reads them");
    },
    /** Ends the client's side and resolves with the one response, once the call has ended with OK. */
    async response<S extends DescMessage>(schema: S): Promise<MessageShape<S>> {
      stream.end();
      await done;
      assert.equal(error, undefined);
      assert.equal(trailers["grpc-status"], "0", String(trailers["grpc-message"]));
      const [reply] = parseEnvelopes(Buffer.concat(chunks));
      // With no grpc-accept-encoding, the response is compressed as the request was.
      return fromBinary(schema, reply!.flags & 1 ? gunzipSync(reply!.data) : reply!.data);
    },
    close: () => session.destroy(),
  };
}

/** The highest RSS of `pid` over `ms`, sampled every 50 ms. */
async function peakRss(pid: number, ms: number): Promise<number> {
  let peak = 0;
  for (let t = 0; t < ms; t += 50) {
    peak = Math.max(peak, rssOf(pid));
    await pause(50);
  }
  return peak;
}

describe("compressed client-stream messages to a handler that is not reading", () => {
  /** How long the handler sleeps on the first message before it reads the rest. */
  const holdMs = 5000;
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw?.stop());

  test(`${messages} × 1 MiB gzipped to ~1 KiB: the gateway's RSS grows < 64 MiB, the client waits on flow control, others are served, and all arrive once the handler reads`, async () => {
    const pid = gw.child.pid!;
    const sessions = new Http2SessionManager(gw.url);
    const other = createClient(ProbeService, createGrpcTransport({ baseUrl: gw.url, sessionManager: sessions }));
    // Loads the handler and warms up the paths the stream takes, so that what is measured is the stream.
    assert.equal((await other.unary({ text: "warm" })).text, "warm");
    const envelopes = Array.from({ length: messages }, (_, k) => gzipped(ProbeRequestSchema, k === 0 ? { text: "m1", sleepMs: holdMs } : { text: `m${k + 1}`, payload: new Uint8Array(MiB) }));
    const wire = envelopes.reduce((n, e) => n + e.byteLength, 0);
    assert.ok(wire > 160 * 1024 && wire < 256 * 1024, `the stream is ${wire} bytes on the wire`);

    const rssBefore = rssOf(pid);
    const call = gzipStream(gw.url, "/probe.v1.ProbeService/ClientStream", envelopes);
    try {
      const peak = Math.max(await peakRss(pid, 2500), rssOf(pid));
      assert.equal((await other.unary({ text: "meanwhile" })).text, "meanwhile");
      assert.ok(peak - rssBefore < maxGrowth, `RSS grew ${((peak - rssBefore) / MiB).toFixed(1)} MiB while ${messages - 1} MiB inflated were sent`);
      call.assertHeldBack();
      // Once the handler wakes it reads the rest.
      const summary = await call.response(ProbeSummarySchema);
      assert.equal(summary.count, BigInt(messages));
      assert.equal(summary.bytes, BigInt((messages - 1) * MiB));
      assert.deepEqual(summary.texts, Array.from({ length: messages }, (_, k) => `m${k + 1}`));
    } finally {
      call.close();
      sessions.abort();
    }
  });
});

describe("compressed client-stream messages on a proxy route whose upstream is not reading", () => {
  let upstream: UpstreamProcess;
  let gw: FlowGateway;
  before(async () => {
    upstream = await startUpstream({ impl: "connect" });
    gw = await startFlowProxy("compressed-proxy", upstream, {});
  });
  after(async () => {
    await gw?.stop();
    await upstream?.kill();
  });

  test(`${messages} × 1 MiB gzipped to ~1 KiB, upstream stopped (SIGSTOP): the gateway's RSS grows < 64 MiB, the client waits on flow control, health answers, and all arrive once the upstream runs again`, async () => {
    const pid = gw.child.pid!;
    // The upstream connection is open and the route warm before the upstream stops.
    await gw.clients.grpc.count({});
    const health = createClient(Health, createGrpcTransport({ baseUrl: gw.url }));
    const envelopes = Array.from({ length: messages }, (_, k) => gzipped(ChunkSchema, { sequence: BigInt(k + 1), payload: new Uint8Array(MiB) }));

    const rssBefore = rssOf(pid);
    upstream.freeze();
    const call = gzipStream(gw.url, "/flow.v1.FlowService/Upload", envelopes);
    try {
      const peak = Math.max(await peakRss(pid, 2500), rssOf(pid));
      assert.equal((await health.check({ service: "" })).status, 1 /* SERVING */);
      assert.ok(peak - rssBefore < maxGrowth, `RSS grew ${((peak - rssBefore) / MiB).toFixed(1)} MiB while ${messages} MiB inflated were sent`);
      call.assertHeldBack();
      upstream.thaw();
      const summary = await call.response(UploadSummarySchema);
      assert.equal(summary.count, BigInt(messages));
      assert.deepEqual(summary.sequences, Array.from({ length: messages }, (_, k) => BigInt(k + 1)));
    } finally {
      upstream.thaw();
      call.close();
    }
  });
});
