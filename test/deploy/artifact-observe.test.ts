// What observes a gateway works from a built artifact too: a read-only copy
// outside the checkout, started by an unprivileged user with the admin
// listener on, serves reflection from the descriptors bundled into it, the
// admin listener's metrics, status page and profiles, and makes spans for
// an OpenTelemetry SDK preloaded from outside the artifact (bundled with its
// own copy of @opentelemetry/api, as an application's otel.js would be).
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SpanKind } from "@opentelemetry/api";
import * as esbuild from "esbuild";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { ServerReflection, type ServerReflectionResponse } from "../../proto/gen/grpc/reflection/v1/reflection_pb.js";
import { adminUrl, scrape, value } from "../support/admin.js";
import { buildArtifact, copyReadOnly, scratchFolder, snapshotTree, startArtifact } from "../support/artifact.js";
import { client, from } from "../support/clients.js";
import { root, type RunningGateway } from "../support/gateway.js";
import type { SpanRecord } from "../support/otel-preload.js";

const work = scratchFolder("sluice-artifact-observe-");
after(() => rmSync(work, { recursive: true, force: true }));

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpanId = "00f067aa0ba902b7";

describe("a built artifact, observed", () => {
  const deployed = path.join(work, "srv", "sluice");
  const configFile = path.join(work, "etc", "sluice.config.json");
  // Written by the preload when the process exits: a folder the unprivileged user may write to.
  const spansFile = path.join(work, "spans", "spans.json");
  const otel = path.join(work, "otel", "otel.mjs");
  let gw: RunningGateway;
  let admin: string;
  let tree: string[];

  before(async () => {
    const built = path.join(work, "build");
    const r = buildArtifact(built, ["--set", "typeCheck=off"]);
    assert.equal(r.code, 0, `sluice build failed:\n${r.stdout}${r.stderr}`);
    copyReadOnly(built, deployed);
    tree = snapshotTree(deployed);
    mkdirSync(path.dirname(configFile), { recursive: true });
    writeFileSync(configFile, JSON.stringify({ host: "127.0.0.1", admin: { port: 0 } }));
    mkdirSync(path.dirname(spansFile), { recursive: true });
    chmodSync(path.dirname(spansFile), 0o777);
    await esbuild.build({
      entryPoints: [path.join(root, "test/support/otel-preload.ts")],
      outfile: otel,
      bundle: true,
      format: "esm",
      platform: "node",
      // The SDK's CommonJS files require Node's modules, which an ES module does through createRequire.
      banner: { js: `import { createRequire } from "node:module"; const require = createRequire(import.meta.url);` },
      logLevel: "silent",
    });
    gw = await startArtifact(deployed, ["start", "--config", configFile], {
      PORT: "0",
      NODE_OPTIONS: `--import ${pathToFileURL(otel).href}`,
      SLUICE_TEST_SPANS: spansFile,
    });
    admin = adminUrl(gw);
  });

  after(async () => {
    if (gw?.child.exitCode === null) await gw.stop("SIGKILL");
  });

  test("reflection lists every service and describes a function's file, from the descriptors in the artifact", async () => {
    const reflection = client(ServerReflection, createGrpcTransport({ baseUrl: gw.url }));
    const answers: ServerReflectionResponse[] = [];
    for await (const res of reflection.serverReflectionInfo(from([
      { messageRequest: { case: "listServices" as const, value: "*" } },
      { messageRequest: { case: "fileContainingSymbol" as const, value: "greet.v1.GreetService" } },
    ]))) answers.push(res);
    assert.equal(answers.length, 2);
    const [list, file] = answers.map((a) => a.messageResponse);
    assert.equal(list?.case, "listServicesResponse");
    assert.deepEqual(list.value.service.map((s) => s.name).sort(), [
      "chat.v1.ChatService",
      "greet.v1.GreetService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "ingest.v1.IngestService",
      "ticker.v1.TickerService",
    ]);
    assert.equal(file?.case, "fileDescriptorResponse");
    const greet = file.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b)).find((f) => f.name === "greet/v1/greet.proto");
    assert.deepEqual(greet?.service.map((s) => [s.name, s.method.map((m) => [m.name, m.inputType, m.outputType])]), [
      ["GreetService", [["Greet", ".greet.v1.GreetRequest", ".greet.v1.GreetResponse"]]],
    ]);
  });

  test("the admin listener: /metrics counts a function's calls, /status.json names its file, the status page and a CPU profile are served", async () => {
    const greet = client(GreetService, createGrpcTransport({ baseUrl: gw.url }));
    await greet.greet({ name: "Ada" });
    await greet.greet({ name: "Grace" });
    const samples = await scrape(admin);
    const route = { grpc_service: "greet.v1.GreetService", grpc_method: "Greet" };
    assert.equal(value(samples, "grpc_server_handled_total", { ...route, grpc_type: "unary", protocol: "grpc", grpc_code: "OK" }), 2);
    assert.equal(value(samples, "sluice_route_info", { ...route, kind: "function", source: "functions/greet.ts" }), 1);

    const status = (await (await fetch(`${admin}/status.json`)).json()) as { routes: { route: string; calls: number; source: string | null }[] };
    const row = status.routes.find((r) => r.route === "greet.v1.GreetService/Greet");
    assert.deepEqual(row && [row.calls, row.source], [2, "functions/greet.ts"], JSON.stringify(status.routes));

    const page = await fetch(`${admin}/`);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /status\.json/);

    const res = await fetch(`${admin}/debug/profile/cpu?seconds=1`);
    assert.equal(res.status, 200);
    const profile = (await res.json()) as { nodes: { callFrame: { functionName: string } }[]; samples: number[] };
    assert.equal(profile.nodes[0]?.callFrame.functionName, "(root)");
    assert.ok(profile.samples.length > 0);
  });

  test("a SERVER span per call, parented on the caller's traceparent, for the SDK preloaded beside the artifact", async () => {
    const greet = client(GreetService, createGrpcTransport({ baseUrl: gw.url }));
    await greet.greet({ name: "traced" }, { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } });
    gw.child.kill("SIGTERM");
    assert.equal(await gw.exited, 0, gw.output());
    const spans = JSON.parse(readFileSync(spansFile, "utf8")) as SpanRecord[];
    const traced = spans.filter((s) => s.traceId === traceId);
    assert.deepEqual(traced.map((s) => [s.name, s.kind, s.parentSpanId, s.attributes["rpc.service"]]), [
      ["greet.v1.GreetService/Greet", SpanKind.SERVER, callerSpanId, "greet.v1.GreetService"],
    ]);
    // The calls before it were traced too, each in a trace of its own.
    assert.ok(spans.filter((s) => s.name === "greet.v1.GreetService/Greet").length >= 3, JSON.stringify(spans.map((s) => s.name)));
  });

  test("nothing was written into the artifact's folder", () => {
    assert.deepEqual(snapshotTree(deployed), tree);
  });
});
