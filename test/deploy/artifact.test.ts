// sluice build: one artifact that runs with only a node binary. It is built
// twice (byte-identical), copied to an empty folder outside the checkout,
// made read-only and started by an unprivileged user with nothing but PORT
// and a config file; real clients then call it over every protocol
// (gRPC-Web text and gRPC-Web over WebSocket included), and SIGTERM drains it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatEvent_Kind, ChatService, type ChatEvent, type ChatRequestSchema } from "../../proto/gen/chat/v1/chat_pb.js";
import { BadRequestSchema } from "../../proto/gen/google/rpc/error_details_pb.js";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { IngestService, Level, LogRecordSchema, type LogRecord } from "../../proto/gen/ingest/v1/ingest_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { artifactNode, buildArtifact, copyReadOnly, effectiveUid, nodeVersion, readTree, runArtifact, scratchFolder, snapshotTree, startArtifact } from "../support/artifact.js";
import { createWebSocketTransport } from "../../src/web/web-transport.js";
import { productionNodeFlags } from "../../src/host/node-flags.js";
import { client, transports } from "../support/clients.js";
import { root, type RunningGateway } from "../support/gateway.js";
import { createGrpcWebTextTransport, type TextWire } from "../support/grpc-web-text-client.js";
import { NodeWebSocket } from "../support/grpc-websocket.js";

const work = scratchFolder("sluice-artifact-");
after(() => rmSync(work, { recursive: true, force: true }));


interface Manifest {
  format: number;
  sluice: string;
  node: string;
  hash: string;
  functions: { source: string; module: string }[];
}

describe("sluice build", () => {
  const first = path.join(work, "build-1");
  const second = path.join(work, "elsewhere", "build-2");
  let manifest: Manifest;
  let buildOutput = "";

  before(() => {
    for (const out of [first, second]) {
      const r = buildArtifact(out);
      assert.equal(r.code, 0, `sluice build failed:\n${r.stdout}${r.stderr}`);
      buildOutput ||= r.stdout;
    }
    manifest = JSON.parse(readFileSync(path.join(first, "sluice-artifact.json"), "utf8")) as Manifest;
  });

  test("it ends by saying how to run the artifact, with the production Node flags", () => {
    assert.match(buildOutput, new RegExp(`run it with only node: node ${productionNodeFlags.join(" ")} \\S*build-1/sluice\\.mjs start`));
  });

  test("two builds of the same sources, to different folders, are byte-identical", () => {
    const a = readTree(first);
    const b = readTree(second);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs between the two builds`);
  });

  test("the manifest records the Sluice and Node versions, the functions and a content hash of every other file", () => {
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
    assert.equal(manifest.format, 1);
    assert.equal(manifest.sluice, pkg.version);
    assert.equal(manifest.node, nodeVersion(artifactNode));
    assert.deepEqual(manifest.functions.map((f) => f.source), ["functions/chat.ts", "functions/greet.ts", "functions/ingest.ts", "functions/ticker.ts"]);
    // Recomputed here: sha256 over "name\0size\0" and the bytes of each file, in name order.
    const hash = createHash("sha256");
    for (const [name, bytes] of readTree(first)) {
      if (name === "sluice-artifact.json") continue;
      hash.update(`${name}\0${bytes.byteLength}\0`);
      hash.update(bytes);
    }
    assert.equal(manifest.hash, hash.digest("hex"));
  });

  test("only JavaScript modules, source maps and JSON: no node_modules, no TypeScript, no path of the build machine", () => {
    for (const [name, bytes] of readTree(first)) {
      assert.match(name, /\.(mjs|mjs\.map|json)$/, name);
      assert.ok(!name.includes("node_modules"), name);
      assert.ok(!bytes.includes(root), `${name} contains the checkout's path ${root}`);
    }
  });

  test("one copy of Connect, protobuf and Sluice's own API, shared by the host and every function", () => {
    // Each is defined once across all files: the functions import the chunk
    // the host imports. (Built with splitting off, each would appear five
    // times, and ctx.values.get(rpcContextKey) in a function would read a
    // key the host never set: the SIGTERM test below would see it.)
    const code = [...readTree(first)].filter(([name]) => name.endsWith(".mjs")).map(([, bytes]) => bytes.toString()).join("\n");
    const count = (pattern: RegExp) => code.match(new RegExp(pattern.source, "g"))?.length ?? 0;
    assert.equal(count(/class _?ConnectError extends Error/), 1, "ConnectError");
    // @opentelemetry/api has a createContextKey(description) of its own; Connect's takes a default value.
    assert.equal(count(/function createContextKey\d*\(defaultValue,/), 1, "Connect's context keys");
    assert.equal(count(/"sluice rpc context"/), 1, "rpcContextKey");
    assert.equal(count(/sluice\.function-definition\.v1/), 1, "defineFunction's brand");
    assert.equal(count(/function fileDesc\(/), 1, "protobuf's descriptor runtime");
  });

  test("--out that would hold the project, or a folder that is not an artifact, is refused", () => {
    const r = buildArtifact(".", ["--set", "typeCheck=off"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_BUILD_FAILED: .*holds the project itself/);
    const occupied = path.join(work, "occupied");
    rmSync(occupied, { recursive: true, force: true });
    buildArtifact(occupied, ["--set", "typeCheck=off"]);
    writeFileSync(path.join(occupied, "sluice-artifact.json.bak"), "");
    rmSync(path.join(occupied, "sluice-artifact.json"));
    const again = buildArtifact(occupied, ["--set", "typeCheck=off"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /SLUICE_BUILD_FAILED: .*is not empty and is not an artifact/);
  });

  describe("a read-only copy outside the checkout, started by an unprivileged user with only PORT and a config file", () => {
    const deployed = path.join(work, "srv", "sluice");
    const configFile = path.join(work, "etc", "sluice.config.json");
    let gw: RunningGateway;
    let before_: string[];

    before(async () => {
      copyReadOnly(first, deployed);
      mkdirSync(path.dirname(configFile), { recursive: true });
      writeFileSync(configFile, JSON.stringify({ host: "127.0.0.1", drainTimeoutMs: 20_000, logLevel: "info" }));
      chmodSync(configFile, 0o444);
      before_ = snapshotTree(deployed);
      gw = await startArtifact(deployed, ["start", "--config", configFile], { PORT: "0" });
    });

    after(async () => {
      if (gw.child.exitCode === null) await gw.stop("SIGKILL");
    });

    test("it runs as that user, and a start-up log line and /healthz name the build", async () => {
      if (process.getuid?.() === 0) assert.notEqual(effectiveUid(gw.child.pid!), 0);
      const built = JSON.parse(readFileSync(path.join(deployed, "sluice-artifact.json"), "utf8")) as Manifest;
      assert.match(gw.output(), new RegExp(`"artifact":"${built.hash}","sluice":"${built.sluice}","builtForNode":"${built.node}".*"msg":"serving a built artifact"`));
      const res = await fetch(`${gw.url}/healthz`);
      assert.deepEqual(await res.json(), { status: "ok", artifact: { hash: built.hash, sluice: built.sluice, builtForNode: built.node } });
    });

    test("gRPC, gRPC-Web and Connect calls succeed (HTTP/1.1 and HTTP/2)", async () => {
      for (const [name, transport] of Object.entries(transports(gw.url))) {
        const res = await client(GreetService, transport).greet({ name: "Ada", locale: "fr" });
        assert.equal(res.greeting, "Bonjour, Ada !", name);
      }
    });

    test("gRPC-Web text (HTTP/1.1 and HTTP/2), and a bidi chat over one WebSocket that both sides use at once", async () => {
      for (const httpVersion of ["1.1", "2"] as const) {
        const wire: TextWire = { contentType: null, chunks: [] };
        const res = await client(GreetService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion, wire })).greet({ name: "Ada", locale: "fr" });
        assert.equal(res.greeting, "Bonjour, Ada !", `text over HTTP/${httpVersion}`);
        assert.match(wire.contentType ?? "", /^application\/grpc-web-text/, `text over HTTP/${httpVersion}`);
      }
      // Each message is sent only once the event the one before caused has
      // come back, so the chat ends only if the socket carries both ways.
      const chat = client(ChatService, createWebSocketTransport({ baseUrl: gw.url, webSocket: NodeWebSocket }));
      const seen: ChatEvent[] = [];
      let wake: (() => void) | undefined;
      const until = async (n: number) => {
        while (seen.length < n) await new Promise<void>((r) => (wake = r));
      };
      async function* requests(): AsyncIterable<MessageInitShape<typeof ChatRequestSchema>> {
        yield { action: { case: "join", value: { room: "artifact", name: "ada" } } };
        await until(1);
        yield { action: { case: "say", value: { text: "from a read-only artifact" } } };
        await until(2);
      }
      for await (const event of chat.chat(requests())) {
        seen.push(event);
        wake?.();
      }
      assert.deepEqual(seen.map((e) => [e.kind, e.from, e.text]), [
        [ChatEvent_Kind.JOINED, "ada", ""],
        [ChatEvent_Kind.MESSAGE, "ada", "from a read-only artifact"],
      ]);
    });

    test("a ConnectError a function throws reaches every client with its code and details (one copy of Connect in the artifact)", async () => {
      for (const [name, transport] of Object.entries(transports(gw.url))) {
        const err = await client(GreetService, transport).greet({ name: "" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
        assert.equal(err?.code, Code.InvalidArgument, `${name}: ${err?.message}`);
        assert.match(err.rawMessage, /name is required/, name);
        const [detail] = err.findDetails(BadRequestSchema);
        assert.deepEqual(detail?.fieldViolations.map((v) => [v.field, v.reason]), [["name", "REQUIRED"]], name);
      }
    });

    test("SIGTERM drains: a client stream keeps every message it sends after the signal; a stream that watches rpcContextKey's draining ends at once", async () => {
      const transport = createGrpcTransport({ baseUrl: gw.url });
      const sent: LogRecord[] = [];
      let release!: () => void;
      const signalled = new Promise<void>((r) => (release = r));
      async function* records(): AsyncIterable<LogRecord> {
        for (let i = 0; i < 10; i++) {
          if (i === 5) await signalled;
          const r = create(LogRecordSchema, { time: timestampFromMs(1_700_000_000_000 + i), level: Level.INFO, message: `record ${i}` });
          sent.push(r);
          yield r;
          await sleep(20);
        }
      }
      const ingest = client(IngestService, transport).ingest(records());
      // The ticker ends with the function's own UNAVAILABLE when the drain
      // begins, which it sees through ctx.values.get(rpcContextKey): the host
      // and the function share that key.
      const ticks: bigint[] = [];
      const ticker = (async () => {
        for await (const t of client(TickerService, transport).subscribe({ symbols: ["ACME"], intervalMs: 50 })) ticks.push(t.sequence);
      })().then(() => undefined, (e: unknown) => ConnectError.from(e));
      while (ticks.length < 2) await sleep(20);
      gw.child.kill("SIGTERM");
      await gw.waitForOutput(/"msg":"draining"/);
      release();
      const summary = await ingest;
      assert.equal(summary.count, 10n, "every record, those sent after SIGTERM too");
      assert.equal(sent.length, 10);
      const tickerEnd = await ticker;
      assert.equal(tickerEnd?.code, Code.Unavailable);
      assert.match(tickerEnd.rawMessage, /the server is restarting; subscribe again/);
      assert.deepEqual(ticks, ticks.map((_, i) => BigInt(i + 1)), "no tick lost before the end");
      assert.equal(await gw.exited, 0);
    });

    test("nothing was written into the artifact's folder", () => {
      assert.deepEqual(snapshotTree(deployed), before_);
    });
  });

  describe("an artifact refuses what needs the sources, and reports a broken copy", () => {
    test("dev and build are refused; check validates the config and the functions", () => {
      for (const command of ["dev", "build"]) {
        const r = runArtifact(first, [command]);
        assert.equal(r.code, 1, command);
        assert.match(r.stderr, new RegExp(`SLUICE_CLI_USAGE: this is a built artifact .*: it runs start and check; ${command} needs the project's sources`));
      }
      const checked = runArtifact(first, ["check"]);
      assert.equal(checked.code, 0, checked.stderr);
      assert.match(checked.stdout, /greet\.v1\.GreetService\s+Greet\s+unary.*functions\/greet\.ts/);
      assert.match(checked.stdout, /config and 4 function file\(s\) OK/);
      assert.equal(runArtifact(first, ["--version"]).stdout.trim(), manifest.sluice);
    });

    test("a TypeScript config file is refused with the reason", () => {
      const r = runArtifact(first, ["check", "--config", path.join(root, "test/fixtures/functions/probe.ts")]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /SLUICE_CONFIG_LOAD_FAILED: .*a built artifact reads JSON config files only/);
    });

    test("without its manifest, or with a function module missing, it says so and exits 1", async () => {
      const broken = path.join(work, "broken");
      rmSync(broken, { recursive: true, force: true });
      copyReadOnly(first, broken);
      chmodSync(broken, 0o755);
      rmSync(path.join(broken, "sluice-artifact.json"));
      const r = runArtifact(broken, ["start", "--port", "0"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /SLUICE_ARTIFACT_INVALID: .*sluice-artifact\.json does not describe a usable artifact: ENOENT/);

      const partial = path.join(work, "partial");
      rmSync(partial, { recursive: true, force: true });
      copyReadOnly(first, partial);
      chmodSync(path.join(partial, "functions"), 0o755);
      rmSync(path.join(partial, "functions", "greet.mjs"));
      const p = runArtifact(partial, ["start", "--port", "0"]);
      assert.equal(p.code, 1);
      assert.match(p.stderr, /SLUICE_FUNCTION_IMPORT_FAILED: functions\/greet\.ts: threw while being loaded: Cannot find module/);
    });
  });
});
