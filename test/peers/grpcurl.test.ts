// grpcurl, the gRPC command-line client most people reach for, calls every
// example function over h2c (-plaintext, prior knowledge) and over TLS (h2 by
// ALPN, verified against the test certificate), with the schema taken from
// the .proto files in proto/ (and, without them, from server reflection).
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fromJsonString, toBinary } from "@bufbuild/protobuf";
import { LogRecordSchema } from "../../proto/gen/ingest/v1/ingest_pb.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";
import { describeWithTool, findTool } from "../support/tools.js";
import { killRunningTools, runTool, startTool, type ToolResult } from "./run-tool.js";

const grpcurl = findTool("grpcurl", "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3");

/** Every example service, plus the messages its errors carry. */
const protoArgs = [
  "-import-path", "proto",
  ...["greet/v1/greet.proto", "ticker/v1/ticker.proto", "ingest/v1/ingest.proto", "chat/v1/chat.proto", "grpc/health/v1/health.proto", "google/rpc/error_details.proto"].flatMap((p) => ["-proto", p]),
];

/** grpcurl exits with 64 + the gRPC status code when the RPC fails. */
const exitFor = { InvalidArgument: 64 + 3, DeadlineExceeded: 64 + 4 } as const;

/** grpcurl prints one pretty JSON object per response message; splits them. */
function messages(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const chunk of stdout.split(/^(?=\{)/m)) if (chunk.trim() !== "") out.push(JSON.parse(chunk));
  return out;
}

/** Response messages printed completely so far (each ends with a "}" line of its own). */
function printed(stdout: string): number {
  return stdout.match(/^\}$/gm)?.length ?? 0;
}

function ok(r: ToolResult): ToolResult {
  assert.equal(r.code, 0, `grpcurl failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

describeWithTool(grpcurl, "grpcurl", {}, () => {
  const cert = grpcurl.path ? createSelfSignedCert() : undefined;
  const targets: { name: string; flags: string[]; gateway?: RunningGateway }[] = [
    { name: "h2c", flags: ["-plaintext"] },
    { name: "TLS", flags: ["-cacert", cert?.certPath ?? ""] },
  ];

  before(async () => {
    const functionsDir = `${root}/functions`;
    const tls = ["--set", `tls.cert=${cert!.certPath}`, "--set", `tls.key=${cert!.keyPath}`];
    // allSettled: a gateway that did start is kept for after() to stop, even if the other failed.
    const started = await Promise.allSettled([startGateway({ functionsDir }), startGateway({ functionsDir, args: tls })]);
    started.forEach((s, i) => {
      if (s.status === "fulfilled") targets[i]!.gateway = s.value;
    });
    for (const s of started) if (s.status === "rejected") throw s.reason;
  });
  after(async () => {
    await killRunningTools();
    const running = targets.flatMap((t) => (t.gateway ? [t.gateway] : []));
    const codes = await Promise.all(running.map((gw) => gw.stop()));
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
    // Every call has ended, so each gateway drains at once and exits cleanly.
    assert.deepEqual(codes, running.map(() => 0));
  });

  for (const target of targets) {
    describe(target.name, () => {
      const address = () => `127.0.0.1:${target.gateway!.port}`;
      const call = (method: string, data: string, extra: string[] = []) =>
        runTool(grpcurl.path!, [...target.flags, ...protoArgs, ...extra, "-d", data, address(), method]);

      test("list and describe read the services from proto/", async () => {
        const list = ok(await runTool(grpcurl.path!, [...target.flags, ...protoArgs, address(), "list"]));
        assert.deepEqual(list.stdout.trim().split("\n"), [
          "chat.v1.ChatService",
          "greet.v1.GreetService",
          "grpc.health.v1.Health",
          "ingest.v1.IngestService",
          "ticker.v1.TickerService",
        ]);
        const greet = ok(await runTool(grpcurl.path!, [...target.flags, ...protoArgs, address(), "describe", "greet.v1.GreetService"]));
        assert.match(greet.stdout, /rpc Greet \( \.greet\.v1\.GreetRequest \) returns \( \.greet\.v1\.GreetResponse \) \{\s+option idempotency_level = NO_SIDE_EFFECTS;/);
        const chat = ok(await runTool(grpcurl.path!, [...target.flags, ...protoArgs, address(), "describe", "chat.v1.ChatService"]));
        assert.match(chat.stdout, /rpc Chat \( stream \.chat\.v1\.ChatRequest \) returns \( stream \.chat\.v1\.ChatEvent \);/);
      });

      test("without proto files: server reflection lists the services (test/observe/reflection.test.ts has the rest)", async () => {
        const r = ok(await runTool(grpcurl.path!, [...target.flags, address(), "list"]));
        assert.match(r.stdout, /^greet\.v1\.GreetService$/m);
        assert.match(r.stdout, /^grpc\.reflection\.v1\.ServerReflection$/m);
      });

      test("unary: greet", async () => {
        const r = ok(await call("greet.v1.GreetService/Greet", '{"name": "Ada", "locale": "fr"}'));
        assert.deepEqual(messages(r.stdout), [{ greeting: "Bonjour, Ada !", locale: "fr" }]);
      });

      test("unary: health check of a served service", async () => {
        const r = ok(await call("grpc.health.v1.Health/Check", '{"service": "greet.v1.GreetService"}'));
        assert.deepEqual(messages(r.stdout), [{ status: "SERVING" }]);
      });

      test("unary error: code, message and the google.rpc.BadRequest detail", async () => {
        const r = await call("greet.v1.GreetService/Greet", '{"name": "", "locale": "xx"}', ["-format-error"]);
        assert.equal(r.code, exitFor.InvalidArgument);
        assert.equal(r.stdout, "");
        assert.deepEqual(JSON.parse(r.stderr), {
          code: 3,
          message: "invalid GreetRequest: name is required; locale must be one of en, fr, de, es",
          details: [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [
              { field: "name", description: "name is required", reason: "REQUIRED" },
              { field: "locale", description: "locale must be one of en, fr, de, es", reason: "UNSUPPORTED" },
            ],
          }],
        });
      });

      test("server streaming: ticks until grpcurl's deadline ends the call", async () => {
        const r = await call("ticker.v1.TickerService/Subscribe", '{"symbols": ["ACME", "GLOBEX"], "interval_ms": 10}', ["-max-time", "1"]);
        assert.equal(r.code, exitFor.DeadlineExceeded, r.stderr);
        assert.match(r.stderr, /Code: DeadlineExceeded/);
        const ticks = messages(r.stdout) as { symbol: string; sequence: string; priceMicros: string; time: string }[];
        // The first round of ticks is sent at once; the rest depends on the clock.
        assert.ok(ticks.length >= 2, r.stdout);
        ticks.forEach((t, i) => {
          assert.equal(t.sequence, String(i + 1)); // uint64 is a string in proto JSON
          assert.equal(t.symbol, i % 2 === 0 ? "ACME" : "GLOBEX");
          assert.match(t.priceMicros, /^\d+$/);
          assert.ok(!Number.isNaN(Date.parse(t.time)));
        });
      });

      test("server streaming error: a bad request fails before the first tick", async () => {
        const r = await call("ticker.v1.TickerService/Subscribe", '{"symbols": ["acme"]}');
        assert.equal(r.code, exitFor.InvalidArgument);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /Code: InvalidArgument\n\s+Message: symbols: "acme" is not 1 to 8 upper-case letters/);
      });

      test("client streaming with -d @: ingest summarises the records read from stdin", async () => {
        const records = [
          '{"time": "2024-05-01T10:00:03Z", "level": "LEVEL_ERROR", "message": "disk full", "attributes": {"host": "a"}}',
          '{"time": "2024-05-01T10:00:01Z", "level": "LEVEL_INFO", "message": "started"}',
          '{"time": "2024-05-01T10:00:02Z", "level": "LEVEL_INFO", "message": "ready"}',
        ];
        const r = ok(await runTool(grpcurl.path!, [...target.flags, ...protoArgs, "-d", "@", address(), "ingest.v1.IngestService/Ingest"], { input: records.join("\n") }));
        const bytes = records.reduce((n, json) => n + toBinary(LogRecordSchema, fromJsonString(LogRecordSchema, json)).byteLength, 0);
        assert.deepEqual(messages(r.stdout), [{
          count: "3",
          bytes: String(bytes),
          firstTime: "2024-05-01T10:00:01Z",
          lastTime: "2024-05-01T10:00:03Z",
          countByLevel: { LEVEL_ERROR: "1", LEVEL_INFO: "2" },
        }]);
      });

      test("bidi with -d @: two grpcurl members chat in one room", async () => {
        const room = `peers-${target.name}`;
        const chatArgs = [...target.flags, ...protoArgs, "-d", "@", address(), "chat.v1.ChatService/Chat"];
        const kinds = (stdout: string) => (messages(stdout) as { kind: string; from: string; text?: string; members: number }[]).map((e) => [e.kind, e.from, e.text ?? "", e.members]);

        // Ada joins and keeps her stream open.
        const ada = startTool(grpcurl.path!, chatArgs);
        ada.child.stdin!.write(`{"join": {"room": "${room}", "name": "ada"}}\n`);
        await ada.waitForStdout((out) => printed(out) === 1);

        // Bob joins, says one line and leaves (grpcurl closes its side at the end of stdin).
        const bob = ok(await runTool(grpcurl.path!, chatArgs, { input: `{"join": {"room": "${room}", "name": "bob"}}\n{"say": {"text": "hi ada"}}\n` }));
        assert.deepEqual(kinds(bob.stdout), [["KIND_JOINED", "bob", "", 2], ["KIND_MESSAGE", "bob", "hi ada", 2]]);

        await ada.waitForStdout((out) => printed(out) === 4);
        ada.child.stdin!.write('{"say": {"text": "bye"}}\n');
        await ada.waitForStdout((out) => printed(out) === 5);
        ada.endInput();
        const adaResult = ok(await ada.finished);
        assert.deepEqual(kinds(adaResult.stdout), [
          ["KIND_JOINED", "ada", "", 1],
          ["KIND_JOINED", "bob", "", 2],
          ["KIND_MESSAGE", "bob", "hi ada", 2],
          ["KIND_LEFT", "bob", "", 1],
          ["KIND_MESSAGE", "ada", "bye", 1],
        ]);
      });

      test("bidi error: a stream that does not start with a join", async () => {
        const r = await runTool(grpcurl.path!, [...target.flags, ...protoArgs, "-d", "@", address(), "chat.v1.ChatService/Chat"], { input: '{"say": {"text": "hello?"}}' });
        assert.equal(r.code, exitFor.InvalidArgument);
        assert.match(r.stderr, /Code: InvalidArgument\n\s+Message: the first message must be a join/);
      });
    });
  }

  test("TLS: grpcurl refuses the gateway's certificate unless told to trust it", async () => {
    const r = await runTool(grpcurl.path!, [...protoArgs, "-d", "{}", `127.0.0.1:${targets[1]!.gateway!.port}`, "grpc.health.v1.Health/Check"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /x509: certificate signed by unknown authority/);
  });
});
