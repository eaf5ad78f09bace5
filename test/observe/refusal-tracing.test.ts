// Spans of calls the gateway answers without running them, from the real
// gateway process with an SDK loaded into it (test/support/otel-preload.ts):
// a rate limit, a full queue, a deadline that passes in the queue, shutdown
// while queued, overload shedding, an unknown method of a served service and
// an unknown service, a WebSocket call over the rate limit, a call that
// arrives after shutdown began; each continues the caller's traceparent. A
// call that waited in the queue and then ran has a span from its arrival,
// with its wait.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ChunkSchema, FlowService, HoldRequestSchema } from "../gen/flow/v1/flow_pb.js";
import { failure } from "../support/call-outcome.js";
import { chunks, flowFunctions, until } from "../support/flow-gateway.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { RawWsCall } from "../support/grpc-websocket.js";
import type { SpanRecord } from "../support/otel-preload.js";
import { envelope } from "../support/raw-http.js";

const traceId = "0af7651916cd43dd8448eb211c80319c";
/** The caller's span id of the n-th call the tests make. */
const callerSpan = (n: number) => (0x1000 + n).toString(16).padStart(16, "0");
const traceparent = (n: number) => `00-${traceId}-${callerSpan(n)}-01`;

/** Starts the flow function's gateway with `config` and the SDK preloaded; `spans()` reads what it exported, once it has exited. */
async function tracedGateway(config: object, args: string[] = []): Promise<{ gw: RunningGateway; spans(): SpanRecord[]; cleanup(): void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-refusal-spans-"));
  const file = path.join(dir, "spans.json");
  const configFile = path.join(dir, "sluice.config.json");
  writeFileSync(configFile, JSON.stringify(config));
  const preload = pathToFileURL(path.join(root, "test/support/otel-preload.ts")).href;
  const gw = await startGateway({
    functionsDir: flowFunctions,
    args: ["--config", configFile, ...args],
    env: { NODE_OPTIONS: `--import tsx --import ${preload}`, SLUICE_TEST_SPANS: file },
  });
  return {
    gw,
    spans: () => JSON.parse(readFileSync(file, "utf8")) as SpanRecord[],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The gateway's SERVER span of the call made with traceparent(n). */
function spanOf(spans: SpanRecord[], n: number): SpanRecord {
  const found = spans.filter((s) => s.kind === SpanKind.SERVER && s.traceId === traceId && s.parentSpanId === callerSpan(n));
  assert.equal(found.length, 1, `one server span under caller ${n}; spans: ${JSON.stringify(spans.map((s) => [s.name, s.parentSpanId, s.attributes["sluice.refused"]]))}`);
  return found[0]!;
}

interface RawAnswer {
  status: string | undefined;
  message: string;
}

/**
 * A gRPC call on `session`, opened at once (session.request is synchronous,
 * so calls opened one after another reach the gateway in that order).
 */
function rawGrpc(session: http2.ClientHttp2Session, rpcPath: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": rpcPath, "content-type": "application/grpc", te: "trailers", ...headers });
    let answer: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (answer = { ...answer, ...h }));
    stream.on("trailers", (t) => (answer = { ...answer, ...t }));
    stream.on("error", reject);
    stream.on("close", () => resolve({ status: answer["grpc-status"] as string | undefined, message: decodeURIComponent(String(answer["grpc-message"] ?? "")) }));
    stream.resume();
    stream.end(envelope(body));
  });
}

const hold = (key: string, maxMs = 0) => toBinary(HoldRequestSchema, create(HoldRequestSchema, { key, maxMs }));

describe("refused calls are traced", () => {
  let traced: Awaited<ReturnType<typeof tracedGateway>>;
  let spans: SpanRecord[];
  const answers: Record<string, RawAnswer> = {};

  before(async () => {
    traced = await tracedGateway({
      drainTimeoutMs: 5000,
      limits: {
        "flow.v1.FlowService/Hold": { maxConcurrent: 1, queue: 1, queueTimeoutMs: 60_000 },
        "flow.v1.FlowService/Upload": { rate: { perSecond: 0.001, key: "route" } },
      },
    });
    const { gw } = traced;
    const flow = createClient(FlowService, createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    const holding = async (n: number) => until(`${n} call(s) holding`, async () => {
      const c = await flow.count({});
      return c.holdsStarted - c.holdsReturned === BigInt(n);
    });
    const session = http2.connect(gw.url);
    session.on("error", () => {});
    try {
      // Rate: the bucket holds one call; the next is refused.
      const grpc = createClient(FlowService, createGrpcTransport({ baseUrl: gw.url }));
      await grpc.upload(chunks(1));
      const rated = await failure(grpc.upload(chunks(1), { headers: { traceparent: traceparent(1) } }));
      assert.equal(rated.code, Code.ResourceExhausted);

      // A method the served service does not have, and a service not served.
      answers.unknownMethod = await rawGrpc(session, "/flow.v1.FlowService/Nope", new Uint8Array(0), { traceparent: traceparent(2) });
      const res = await fetch(`${gw.url}/nope.v1.Nothing/Call`, { method: "POST", headers: { "content-type": "application/json", traceparent: traceparent(3) }, body: "{}" });
      assert.equal(res.status, 404);

      // A deadline that passes while the call waits in the queue.
      const first = flow.hold({ key: "a" });
      await holding(1);
      answers.expired = await rawGrpc(session, "/flow.v1.FlowService/Hold", hold("x"), { traceparent: traceparent(4), "grpc-timeout": "300m" });

      // A call queued (5), then one more finds the queue full (6); the slot is freed by a Release (7), and the queued call runs.
      const queued = rawGrpc(session, "/flow.v1.FlowService/Hold", hold("b"), { traceparent: traceparent(5) });
      answers.full = await rawGrpc(session, "/flow.v1.FlowService/Hold", hold("c"), { traceparent: traceparent(6) });
      assert.equal((await flow.release({ key: "a" }, { headers: { traceparent: traceparent(7) } })).released, 1);
      await first;
      await holding(1);
      assert.equal((await flow.release({ key: "b" })).released, 1);
      answers.queued = await queued;

      // A client that goes away while its call waits in the queue (12).
      const holder = flow.hold({ key: "g" });
      await holding(1);
      const leaving = http2.connect(gw.url);
      leaving.on("error", () => {});
      const left = rawGrpc(leaving, "/flow.v1.FlowService/Hold", hold("h"), { traceparent: traceparent(12) }).catch(() => undefined);
      assert.equal((await rawGrpc(leaving, "/flow.v1.FlowService/Hold", hold("i"))).status, String(Code.ResourceExhausted));
      leaving.destroy();
      await left;
      // The gateway has taken it out of the queue (it logs the call) before the slot frees up.
      await gw.waitForOutput(/"rpc":"\/flow\.v1\.FlowService\/Hold","code":"Canceled"/);
      assert.equal((await flow.release({ key: "g" })).released, 1);
      await holder;

      // Shutdown while a call waits in the queue (8); its place was made sure of by a call refused after it.
      const last = flow.hold({ key: "d", maxMs: 1500 });
      await holding(1);
      const draining = rawGrpc(session, "/flow.v1.FlowService/Hold", hold("e"), { traceparent: traceparent(8) });
      assert.equal((await rawGrpc(session, "/flow.v1.FlowService/Hold", hold("f"))).status, String(Code.ResourceExhausted));
      const stopped = gw.stop();
      answers.draining = await draining;
      await last;
      assert.equal(await stopped, 0);
    } finally {
      session.destroy();
    }
    spans = traced.spans();
  });

  after(async () => {
    await traced?.gw.stop();
    traced?.cleanup();
  });

  test("a rate-limited call: a SERVER span of its method under the caller's, RESOURCE_EXHAUSTED, why it was refused", () => {
    const s = spanOf(spans, 1);
    assert.equal(s.name, "flow.v1.FlowService/Upload");
    assert.deepEqual(
      { system: s.attributes["rpc.system"], service: s.attributes["rpc.service"], method: s.attributes["rpc.method"], code: s.attributes["rpc.grpc.status_code"], protocol: s.attributes["sluice.protocol"], refused: s.attributes["sluice.refused"] },
      { system: "grpc", service: "flow.v1.FlowService", method: "Upload", code: Code.ResourceExhausted, protocol: "grpc", refused: "SLUICE_LIMIT_RATE" },
    );
    // RESOURCE_EXHAUSTED is not a server error in the semantic conventions.
    assert.equal(s.status.code, SpanStatusCode.UNSET);
    assert.equal(s.attributes["error.type"], undefined);
  });

  test("an unknown method of a served service: span named for the RPC system, rpc.method _OTHER, the service and the raw name kept", () => {
    assert.equal(answers.unknownMethod!.status, String(Code.Unimplemented));
    const s = spanOf(spans, 2);
    assert.equal(s.name, "grpc");
    assert.deepEqual(
      { system: s.attributes["rpc.system"], service: s.attributes["rpc.service"], method: s.attributes["rpc.method"], original: s.attributes["rpc.method_original"], code: s.attributes["rpc.grpc.status_code"], refused: s.attributes["sluice.refused"], error: s.attributes["error.type"] },
      { system: "grpc", service: "flow.v1.FlowService", method: "_OTHER", original: "flow.v1.FlowService/Nope", code: Code.Unimplemented, refused: "SLUICE_RPC_UNIMPLEMENTED", error: "UNIMPLEMENTED" },
    );
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    assert.match(s.status.message ?? "", /^SLUICE_RPC_UNIMPLEMENTED/);
  });

  test("an unknown service (Connect): span named connect_rpc, no rpc.service, rpc.method _OTHER", () => {
    const s = spanOf(spans, 3);
    assert.equal(s.name, "connect_rpc");
    assert.equal(s.attributes["rpc.system"], "connect_rpc");
    assert.equal(s.attributes["rpc.service"], undefined);
    assert.equal(s.attributes["rpc.method"], "_OTHER");
    assert.equal(s.attributes["rpc.method_original"], "nope.v1.Nothing/Call");
    assert.equal(s.attributes["rpc.grpc.status_code"], Code.Unimplemented);
  });

  test("a deadline that passes in the queue: DEADLINE_EXCEEDED, an error, with the time it waited", () => {
    assert.equal(answers.expired!.status, String(Code.DeadlineExceeded));
    const s = spanOf(spans, 4);
    assert.equal(s.name, "flow.v1.FlowService/Hold");
    assert.equal(s.attributes["rpc.grpc.status_code"], Code.DeadlineExceeded);
    assert.equal(s.attributes["sluice.refused"], "DEADLINE_EXCEEDED");
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    const wait = s.attributes["sluice.queue.wait_ms"];
    assert.ok(typeof wait === "number" && wait > 0, `sluice.queue.wait_ms: ${String(wait)}`);
  });

  test("a full queue: RESOURCE_EXHAUSTED with SLUICE_LIMIT_QUEUE_FULL", () => {
    assert.equal(answers.full!.status, String(Code.ResourceExhausted));
    const s = spanOf(spans, 6);
    assert.equal(s.name, "flow.v1.FlowService/Hold");
    assert.equal(s.attributes["sluice.refused"], "SLUICE_LIMIT_QUEUE_FULL");
    assert.equal(s.attributes["rpc.grpc.status_code"], Code.ResourceExhausted);
  });

  test("a call that waited in the queue and ran: its span starts at its arrival, before the call that freed its slot, and records the wait", () => {
    assert.equal(answers.queued!.status, "0");
    const s = spanOf(spans, 5);
    const release = spanOf(spans, 7);
    assert.equal(s.name, "flow.v1.FlowService/Hold");
    assert.equal(s.attributes["rpc.grpc.status_code"], 0);
    assert.equal(s.attributes["sluice.refused"], undefined);
    // It was queued before the Release arrived, and could only run after it.
    assert.ok(s.startMs < release.startMs, `queued call's span starts at ${s.startMs}, the Release's at ${release.startMs}`);
    const wait = s.attributes["sluice.queue.wait_ms"];
    assert.ok(typeof wait === "number" && wait > 0, `sluice.queue.wait_ms: ${String(wait)}`);
    assert.ok(s.startMs + (wait as number) <= s.endMs);
    // A call that did not queue has no wait recorded.
    assert.equal(release.attributes["sluice.queue.wait_ms"], undefined);
  });

  test("a client that leaves while its call waits in the queue: CANCELLED, with the time it waited", () => {
    const s = spanOf(spans, 12);
    assert.equal(s.name, "flow.v1.FlowService/Hold");
    assert.equal(s.attributes["rpc.grpc.status_code"], Code.Canceled);
    assert.equal(s.attributes["sluice.refused"], "CANCELLED");
    // CANCELLED is not a server error in the semantic conventions.
    assert.equal(s.status.code, SpanStatusCode.UNSET);
    assert.equal(typeof s.attributes["sluice.queue.wait_ms"], "number");
  });

  test("shutdown while queued: UNAVAILABLE with SLUICE_RPC_DRAINING, an error", () => {
    assert.equal(answers.draining!.status, String(Code.Unavailable));
    const s = spanOf(spans, 8);
    assert.equal(s.attributes["sluice.refused"], "SLUICE_RPC_DRAINING");
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    assert.equal(s.attributes["error.type"], "UNAVAILABLE");
  });
});

describe("refusals over WebSocket and after shutdown began are traced", () => {
  test("a WebSocket call over the rate limit, and a call that arrives on an HTTP/1.1 connection once the drain has begun", async () => {
    const traced = await tracedGateway({ drainTimeoutMs: 5000, limits: { "flow.v1.FlowService/Upload": { rate: { perSecond: 0.001, key: "route" } } } });
    const { gw } = traced;
    try {
      const flow = createClient(FlowService, createGrpcTransport({ baseUrl: gw.url }));
      await flow.upload(chunks(1));

      // A WebSocket call carries its headers, traceparent too, in its first message.
      const ws = new RawWsCall(`${gw.url.replace(/^http/, "ws")}/flow.v1.FlowService/Upload`);
      await ws.opened();
      ws.headers({ "content-type": "application/grpc-web+proto", traceparent: traceparent(13) });
      ws.data(envelope(toBinary(ChunkSchema, create(ChunkSchema, { sequence: 1n }))));
      ws.end();
      const refused = await ws.outcome();
      const status = refused.trailer?.["grpc-status"] ?? refused.header["grpc-status"];
      assert.equal(status, String(Code.ResourceExhausted), JSON.stringify(refused));

      // Shutdown: the listener stops accepting and HTTP/2 sessions get GOAWAY,
      // so a new call can only arrive on an HTTP/1.1 connection that still has
      // a call in flight: a request pipelined behind a Hold.
      const socket = net.connect(gw.port, "127.0.0.1");
      let received = "";
      socket.on("data", (c: Buffer) => (received += c.toString("latin1")));
      const closed = new Promise((resolve) => socket.on("close", resolve));
      const h1 = (rpc: string, body: Buffer, headers: Record<string, string> = {}) =>
        socket.write(Buffer.concat([
          Buffer.from(`POST ${rpc} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: ${body.length}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`),
          body,
        ]));
      h1("/flow.v1.FlowService/Hold", envelope(hold("p", 1500)));
      await until("the hold running", async () => {
        const c = await flow.count({});
        return c.holdsStarted - c.holdsReturned === 1n;
      });
      const stopped = gw.stop();
      await gw.waitForOutput(/"msg":"draining"/);
      h1("/flow.v1.FlowService/Count", envelope(new Uint8Array(0)), { traceparent: traceparent(14) });
      await closed;
      assert.equal(await stopped, 0);
      // Two answers on the connection, in order: the Hold's, then the refusal, which closes it.
      const answers = received.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, 2, received);
      assert.match(answers[1]!, /grpc-status: 14\r\n/i);
      assert.match(answers[1]!, /connection: close\r\n/i);

      const spans = traced.spans();
      const ratedWs = spanOf(spans, 13);
      assert.equal(ratedWs.name, "flow.v1.FlowService/Upload");
      assert.equal(ratedWs.attributes["sluice.refused"], "SLUICE_LIMIT_RATE");
      assert.equal(ratedWs.attributes["sluice.protocol"], "grpc-web");
      assert.equal(ratedWs.attributes["rpc.grpc.status_code"], Code.ResourceExhausted);
      const late = spanOf(spans, 14);
      assert.equal(late.name, "flow.v1.FlowService/Count");
      assert.equal(late.attributes["sluice.refused"], "SLUICE_RPC_DRAINING");
      assert.equal(late.attributes["rpc.grpc.status_code"], Code.Unavailable);
      assert.equal(late.status.code, SpanStatusCode.ERROR);
    } finally {
      await gw.stop();
      traced.cleanup();
    }
  });
});

describe("overload shedding is traced", () => {
  test("a shed call gets a SERVER span with UNAVAILABLE and SLUICE_OVERLOADED", async () => {
    const traced = await tracedGateway({ drainTimeoutMs: 500, overload: { maxInFlight: 1 } });
    try {
      const flow = createClient(FlowService, createGrpcTransport({ baseUrl: traced.gw.url }));
      const holding = flow.hold({ key: "s", maxMs: 5000 }).catch(() => undefined);
      // Calls are served until the hold runs; then every other call is shed.
      await until("a call shed", async () => {
        try {
          await flow.count({}, { headers: { traceparent: traceparent(9) } });
          return false;
        } catch (e) {
          assert.equal((e as { code?: Code }).code, Code.Unavailable);
          return true;
        }
      });
      assert.equal(await traced.gw.stop(), 0);
      await holding;
      const shed = traced.spans().filter((s) => s.parentSpanId === callerSpan(9) && s.attributes["sluice.refused"] !== undefined);
      assert.equal(shed.length, 1);
      const s = shed[0]!;
      assert.equal(s.name, "flow.v1.FlowService/Count");
      assert.equal(s.traceId, traceId);
      assert.equal(s.attributes["sluice.refused"], "SLUICE_OVERLOADED");
      assert.equal(s.attributes["rpc.grpc.status_code"], Code.Unavailable);
      assert.equal(s.status.code, SpanStatusCode.ERROR);
    } finally {
      await traced.gw.stop();
      traced.cleanup();
    }
  });
});

describe("refused calls with tracing off", () => {
  test("tracing=off: a refused call and an unknown path make no span", async () => {
    const traced = await tracedGateway({ limits: { "flow.v1.FlowService/Upload": { rate: { perSecond: 0.001, key: "route" } } } }, ["--set", "tracing=off"]);
    try {
      const flow = createClient(FlowService, createGrpcTransport({ baseUrl: traced.gw.url }));
      await flow.upload(chunks(1));
      assert.equal((await failure(flow.upload(chunks(1), { headers: { traceparent: traceparent(10) } }))).code, Code.ResourceExhausted);
      const res = await fetch(`${traced.gw.url}/nope.v1.Nothing/Call`, { method: "POST", headers: { "content-type": "application/json", traceparent: traceparent(11) }, body: "{}" });
      assert.equal(res.status, 404);
      assert.equal(await traced.gw.stop(), 0);
      assert.deepEqual(traced.spans(), []);
    } finally {
      await traced.gw.stop();
      traced.cleanup();
    }
  });
});
