// gRPC server reflection, v1 and v1alpha, read by two real clients that are
// given no .proto file: grpcurl (list, describe, calls of every kind) and
// buf curl --reflect (over gRPC and over Connect, each reflection
// version). Every service is listed: functions, a proxy route, health and
// reflection itself. reflection=false turns it off.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";
import { killRunningTools, runTool, type ToolResult } from "../peers/run-tool.js";

const grpcurl = findTool("grpcurl", "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3");
const buf = path.join(root, "node_modules/.bin/buf");

function ok(r: ToolResult): ToolResult {
  assert.equal(r.code, 0, `failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const services = [
  "chat.v1.ChatService",
  "greet.v1.GreetService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "ingest.v1.IngestService",
  "probe.v1.ProbeService",
  "ticker.v1.TickerService",
];

describeWithTool(grpcurl, "gRPC server reflection", {}, () => {
  let gw: RunningGateway;
  let off: RunningGateway;
  let address: string;

  before(async () => {
    // A proxy route (to nothing: listing and describing never call it) beside the example functions.
    const config = path.join(mkdtempSync(path.join(os.tmpdir(), "sluice-reflection-")), "sluice.config.json");
    writeFileSync(config, JSON.stringify({
      protoGenDir: path.join(root, "test/gen"),
      upstreams: { backend: { url: "http://127.0.0.1:9" } },
      routes: { "probe.v1.ProbeService": { upstream: "backend" } },
    }));
    [gw, off] = await Promise.all([
      startGateway({ functionsDir: path.join(root, "functions"), args: ["--config", config] }),
      startGateway({ functionsDir: path.join(root, "functions"), args: ["--set", "reflection=false"] }),
    ]);
    address = `127.0.0.1:${gw.port}`;
  });

  after(async () => {
    await killRunningTools();
    await Promise.all([gw?.stop(), off?.stop()]);
  });

  test("grpcurl list: every service served, with no .proto file", async () => {
    const r = ok(await runTool(grpcurl.path!, ["-plaintext", address, "list"]));
    assert.deepEqual(r.stdout.trim().split("\n"), services);
  });

  test("grpcurl describe: services, methods and messages, with their imports resolved", async () => {
    const greet = ok(await runTool(grpcurl.path!, ["-plaintext", address, "describe", "greet.v1.GreetService"]));
    assert.match(greet.stdout, /rpc Greet \( \.greet\.v1\.GreetRequest \) returns \( \.greet\.v1\.GreetResponse \) \{\s+option idempotency_level = NO_SIDE_EFFECTS;/);
    const method = ok(await runTool(grpcurl.path!, ["-plaintext", address, "describe", "chat.v1.ChatService.Chat"]));
    assert.match(method.stdout, /rpc Chat \( stream \.chat\.v1\.ChatRequest \) returns \( stream \.chat\.v1\.ChatEvent \)/);
    const message = ok(await runTool(grpcurl.path!, ["-plaintext", address, "describe", "probe.v1.ProbeRequest"]));
    assert.match(message.stdout, /\.probe\.v1\.Failure fail = 3;/);
    const missing = await runTool(grpcurl.path!, ["-plaintext", address, "describe", "nope.v1.Nothing"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope\.v1\.Nothing/);
  });

  test("grpcurl calls without -proto: unary, server streaming, and an error with its google.rpc.BadRequest detail", async () => {
    const unary = ok(await runTool(grpcurl.path!, ["-plaintext", "-d", '{"name":"Ada","locale":"fr"}', address, "greet.v1.GreetService/Greet"]));
    assert.deepEqual(JSON.parse(unary.stdout), { greeting: "Bonjour, Ada !", locale: "fr" });
    const stream = ok(await runTool(grpcurl.path!, ["-plaintext", "-d", "{}", address, "grpc.health.v1.Health/Check"]));
    assert.deepEqual(JSON.parse(stream.stdout), { status: "SERVING" });
    const bad = await runTool(grpcurl.path!, ["-plaintext", "-format-error", "-d", '{"name":""}', address, "greet.v1.GreetService/Greet"]);
    assert.equal(bad.code, 64 + 3);
    assert.equal((JSON.parse(bad.stderr) as { details: { "@type": string }[] }).details[0]!["@type"], "type.googleapis.com/google.rpc.BadRequest");
  });

  test("buf curl --reflect over gRPC, each reflection version", async () => {
    for (const version of ["grpc-v1", "grpc-v1alpha"]) {
      const list = ok(await runTool(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", version, "--list-services", `http://${address}`]));
      assert.deepEqual(list.stdout.trim().split("\n"), services, version);
      const call = ok(await runTool(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", version, "--data", '{"name":"Ada","locale":"de"}', `http://${address}/greet.v1.GreetService/Greet`]));
      assert.deepEqual(JSON.parse(call.stdout), { greeting: "Hallo, Ada!", locale: "de" });
    }
  });

  test("buf curl --reflect over Connect (its default protocol): methods of the proxied service", async () => {
    const methods = ok(await runTool(buf, ["curl", "--http2-prior-knowledge", "--list-methods", `http://${address}`]));
    for (const m of ["probe.v1.ProbeService/Unary", "probe.v1.ProbeService/Bidi", "ticker.v1.TickerService/Subscribe"]) assert.ok(methods.stdout.split("\n").includes(m), methods.stdout);
  });

  test("reflection=false: not served, and the routes table does not show it", async () => {
    const r = await runTool(grpcurl.path!, ["-plaintext", `127.0.0.1:${off.port}`, "list"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /server does not support the reflection API/);
    assert.doesNotMatch(off.output(), /^grpc\.reflection/m);
  });
});
