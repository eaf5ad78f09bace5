// OpenTelemetry spans from the real gateway process, with an SDK and an
// in-memory exporter loaded into it (test/support/otel-preload.ts): the span
// tree of a proxied streaming call (client → gateway SERVER span → gateway
// CLIENT span → upstream, one trace, context propagated), message events,
// ctx.upstream from a function, and tracing=off.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import type { SpanRecord } from "../support/otel-preload.js";
import { TempFunctions } from "../support/temp-functions.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpanId = "00f067aa0ba902b7";
const traceparent = `00-${traceId}-${callerSpanId}-01`;

/** Starts a gateway with the SDK preloaded; `spans()` reads what it exported, once it has exited, and removes the file. */
async function tracedGateway(args: string[], functionsDir: string): Promise<{ gw: RunningGateway; spans(): SpanRecord[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-spans-"));
  const file = path.join(dir, "spans.json");
  const preload = pathToFileURL(path.join(root, "test/support/otel-preload.ts")).href;
  const gw = await startGateway({
    functionsDir,
    args,
    env: { NODE_OPTIONS: `--import tsx --import ${preload}`, SLUICE_TEST_SPANS: file },
  });
  return {
    gw,
    spans: () => {
      const spans = JSON.parse(readFileSync(file, "utf8")) as SpanRecord[];
      rmSync(dir, { recursive: true, force: true });
      return spans;
    },
  };
}

describe("tracing with an SDK registered", () => {
  let upstream: UpstreamProcess;
  let traced: Awaited<ReturnType<typeof tracedGateway>>;
  let functions: TempFunctions;
  let spans: SpanRecord[];
  let configDir: string | undefined;
  const seen: { proxied: Record<string, string>[]; fromFunction: string } = { proxied: [], fromFunction: "" };

  before(async () => {
    upstream = await startUpstream({ impl: "connect" });
    functions = new TempFunctions("tracing");
    // A function that calls the upstream with ctx.upstream, and answers with the traceparent the upstream saw.
    functions.write("greet.ts", `
import { defineFunction } from "sluice";
import { GreetService } from "${path.join(root, "proto/gen/greet/v1/greet_pb.js")}";
import { ProbeService } from "${path.join(root, "test/gen/probe/v1/probe_pb.js")}";
export default defineFunction({
  service: GreetService,
  implementation: {
    async greet(req, ctx) {
      const res = await ctx.upstream(ProbeService, "backend").unary({ text: req.name });
      return { greeting: res.headers["traceparent"] ?? "none" };
    },
  },
});
`);
    configDir = mkdtempSync(path.join(os.tmpdir(), "sluice-tracing-"));
    const config = path.join(configDir, "sluice.config.json");
    writeFileSync(config, JSON.stringify({
      protoGenDir: path.join(root, "test/gen"),
      upstreams: { backend: { url: upstream.url, protocol: "grpc", retry: { maxAttempts: 1 } } },
      routes: { "probe.v1.ProbeService": { upstream: "backend" } },
    }));
    traced = await tracedGateway(["--config", config], functions.dir);

    const transport = createGrpcTransport({ baseUrl: traced.gw.url });
    for await (const m of client(ProbeService, transport).serverStream({ text: "s", count: 3 }, { headers: { traceparent } })) seen.proxied.push(m.headers);
    const { GreetService } = await import("../../proto/gen/greet/v1/greet_pb.js");
    seen.fromFunction = (await client(GreetService, transport).greet({ name: "Ada" }, { headers: { traceparent } })).greeting;

    assert.equal(await traced.gw.stop(), 0);
    spans = traced.spans();
  });

  after(async () => {
    await traced?.gw.stop();
    await upstream?.kill();
    functions?.cleanup();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test("a proxied server-streaming call: SERVER span under the caller's, CLIENT span under it, the upstream under that", () => {
    const server = spans.find((s) => s.name === "probe.v1.ProbeService/ServerStream" && s.kind === SpanKind.SERVER);
    const clientSpan = spans.find((s) => s.name === "probe.v1.ProbeService/ServerStream" && s.kind === SpanKind.CLIENT);
    assert.ok(server && clientSpan, `spans: ${JSON.stringify(spans.map((s) => [s.name, s.kind]))}`);
    // One trace, parented on the caller's traceparent.
    assert.equal(server.traceId, traceId);
    assert.equal(server.parentSpanId, callerSpanId);
    assert.equal(clientSpan.traceId, traceId);
    assert.equal(clientSpan.parentSpanId, server.spanId);
    // The upstream was told the gateway's client span as its parent.
    assert.equal(seen.proxied.length, 3);
    assert.equal(seen.proxied[0]!.traceparent, `00-${traceId}-${clientSpan.spanId}-01`);

    assert.deepEqual(
      { system: server.attributes["rpc.system"], service: server.attributes["rpc.service"], method: server.attributes["rpc.method"], code: server.attributes["rpc.grpc.status_code"], protocol: server.attributes["sluice.protocol"] },
      { system: "grpc", service: "probe.v1.ProbeService", method: "ServerStream", code: 0, protocol: "grpc" },
    );
    assert.equal(clientSpan.attributes["sluice.upstream"], "backend");
    assert.equal(clientSpan.attributes["rpc.grpc.status_code"], 0);
    assert.equal(server.status.code, SpanStatusCode.UNSET);

    // Message events: one request received, three responses sent, each counted from 1.
    const events = server.events.filter((e) => e.name === "rpc.message").map((e) => `${e.attributes["rpc.message.type"]}#${e.attributes["rpc.message.id"]}`);
    assert.deepEqual(events, ["RECEIVED#1", "SENT#1", "SENT#2", "SENT#3"]);
  });

  test("ctx.upstream from a function: its CLIENT span is a child of the function call's SERVER span", () => {
    const server = spans.find((s) => s.name === "greet.v1.GreetService/Greet" && s.kind === SpanKind.SERVER);
    const clientSpan = spans.find((s) => s.name === "probe.v1.ProbeService/Unary" && s.kind === SpanKind.CLIENT);
    assert.ok(server && clientSpan, `spans: ${JSON.stringify(spans.map((s) => [s.name, s.kind]))}`);
    assert.equal(server.traceId, traceId);
    assert.equal(server.parentSpanId, callerSpanId);
    assert.equal(clientSpan.parentSpanId, server.spanId);
    assert.equal(seen.fromFunction, `00-${traceId}-${clientSpan.spanId}-01`);
    // A unary call has no message events.
    assert.deepEqual(server.events, []);
  });
});

describe("tracing off", () => {
  test("with tracing=off, a registered SDK gets no span", async () => {
    const traced = await tracedGateway(["--set", "tracing=off"], path.join(root, "test/fixtures/functions"));
    for await (const _ of client(ProbeService, createGrpcTransport({ baseUrl: traced.gw.url })).serverStream({ count: 2 }, { headers: { traceparent } })) { /* read */ }
    assert.equal(await traced.gw.stop(), 0);
    assert.deepEqual(traced.spans(), []);
  });
});
