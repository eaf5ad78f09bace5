// The benchmark harness on a tiny load (`--smoke`): every arm must answer
// correctly (status 0, payload echoed), every streaming run must complete,
// and a stalled consumer must pause the gateway's handler. Correctness only:
// the numbers belong to `npm run bench`, never to assertions.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { root } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";

const h2load = findTool("h2load", "sudo apt-get install nghttp2-client");

/** The parts of bench/results/<date>.json this test reads (bench/src/report/results-file.ts). */
interface SmokeResults {
  mode: string;
  checks: { arm: string; payload: string; ok: boolean; detail: string }[];
  unary: { arm: string; payload: string; baseline?: string; check: { ok: boolean }; rounds: { succeeded: number; failed: number; echoBytesOk: boolean; ratioToBaseline?: number }[] }[];
  serverStream: { server: string; calls: number; rounds: { ok: boolean; problem?: string }[] }[];
  bidi: { server: string; streams: number; rounds: { ok: boolean; problem?: string }[] }[];
  browserTransports: {
    serverStream: { client: string; calls: number; rounds: { ok: boolean; messagesPerSec: number; problem?: string }[] }[];
    bidi: { transport: string; streams: number; rounds: { ok: boolean; roundTripsPerSec: number; problem?: string }[] }[];
  };
  stalledConsumer: { mode: string; streams: number; handlerPaused: boolean; handlerStoppedAfterCancel: boolean | null; problems: string[] }[];
  stalledLoad: { mode: string; streams: number; streamsOpen: number; problems: string[] }[];
  pacedClient: { messages: number; echoed: number; inOrder: boolean; status: string; problems: string[] };
  coldStart: { arm: string; functions: string; ok: boolean; problem?: string }[];
  fixedRate: { arm: string; rounds: { achievedRps: number; failed: number }[] }[];
  workers: { workers: number; rounds: { rps: number; failed: number }[] }[];
  proxy: { arm: string; rounds: { rps: number; streamOneMps: number; upstreamConnections: number; failed: number }[] }[];
  failures: string[];
}

const unaryArms = ["raw-http2", "grpc-js", "grpc-js-bufbuild", "connect-node", "connect-fastify", "sluice-grpc", "sluice-grpc-web", "sluice-connect-proto", "sluice-connect-json"];
/** The cost of observing calls, each against the plain Sluice gRPC arm. */
const observabilityArms = ["sluice-grpc-metrics", "sluice-grpc-tracing-off", "sluice-grpc-traced"];

describeWithTool(h2load, "benchmark harness (--smoke)", {}, () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "sluice-bench-smoke-"));
  let results: SmokeResults;
  let output = "";

  before(async () => {
    // The harness runs as compiled JavaScript: generate its code and compile it.
    for (const [cmd, args] of [
      [path.join(root, "node_modules/.bin/buf"), ["generate", "--template", "bench/buf.gen.yaml"]],
      [process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "bench/tsconfig.build.json"]],
    ] as const) {
      // buf finds protoc-gen-es on PATH, as under npm scripts.
      const env = { ...process.env, PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}` };
      const built = spawnSync(cmd, args, { cwd: root, env, encoding: "utf8" });
      assert.equal(built.status, 0, `${path.basename(cmd)} ${args.join(" ")} failed:\n${built.stdout}${built.stderr}`);
    }
    const child = spawn(process.execPath, ["bench/.build/src/run.js", "--smoke", "--out", out], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), 90_000);
    await once(child, "exit");
    clearTimeout(timer);
    const file = readdirSync(out).find((f) => f.endsWith("-smoke.json"));
    assert.ok(file, `the harness wrote no results:\n${output}`);
    results = JSON.parse(readFileSync(path.join(out, file), "utf8")) as SmokeResults;
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  test("nothing failed", () => {
    assert.deepEqual(results.failures, [], output);
  });

  test("every unary arm echoed both payloads with status 0, checked by a real client", () => {
    for (const arm of [...unaryArms, ...observabilityArms]) {
      for (const payload of ["small", "10KiB"]) {
        const u = results.unary.find((x) => x.arm === arm && x.payload === payload);
        assert.ok(u, `no result for ${arm} ${payload}`);
        assert.ok(u.check.ok, `${arm} ${payload}: ${JSON.stringify(u.check)}`);
        assert.equal(u.rounds.length, 1);
        for (const r of u.rounds) {
          assert.ok(r.succeeded > 0, `${arm} ${payload}: no request succeeded under h2load`);
          assert.equal(r.failed, 0, `${arm} ${payload}: requests failed under h2load`);
          assert.ok(r.echoBytesOk, `${arm} ${payload}: h2load's replies were not all echoes`);
        }
      }
    }
  });

  test("the observability arms (metrics on, tracing off, tracing with an SDK) are compared with the plain Sluice gRPC arm", () => {
    for (const arm of observabilityArms) {
      for (const u of results.unary.filter((x) => x.arm === arm)) {
        assert.equal(u.baseline, "sluice-grpc");
        for (const r of u.rounds) assert.ok(r.ratioToBaseline !== undefined && r.ratioToBaseline > 0, `${arm} ${u.payload}: ${JSON.stringify(r)}`);
      }
    }
  });

  test("Sluice and grpc-js stream and echo bidi messages correctly", () => {
    for (const server of ["sluice", "grpc-js"]) {
      for (const kind of ["stream", "bidi"]) {
        const check = results.checks.find((c) => c.arm === server && c.payload === kind);
        assert.ok(check?.ok, `${server} ${kind}: ${check?.detail ?? "not checked"}`);
      }
    }
    for (const s of results.serverStream) for (const r of s.rounds) assert.ok(r.ok, `server stream ${s.server} ${s.calls} call(s): ${r.problem}`);
    for (const b of results.bidi) for (const r of b.rounds) assert.ok(r.ok, `bidi ${b.server} ${b.streams} stream(s): ${r.problem}`);
  });

  test("browser transports: server streams to gRPC-Web binary and text clients, bidi over WebSocket and HTTP/2, all complete", () => {
    const bt = results.browserTransports;
    assert.deepEqual(bt.serverStream.map((s) => `${s.client} ${s.calls}`), ["grpc-web 1", "grpc-web-text 1", "grpc-web 64", "grpc-web-text 64"]);
    for (const s of bt.serverStream) for (const r of s.rounds) assert.ok(r.ok && r.messagesPerSec > 0, `stream to ${s.client}, ${s.calls} call(s): ${r.problem}`);
    assert.deepEqual(bt.bidi.map((b) => `${b.transport} ${b.streams}`), ["http2 1", "websocket 1", "http2 8", "websocket 8"]);
    for (const b of bt.bidi) for (const r of b.rounds) assert.ok(r.ok && r.roundTripsPerSec > 0, `bidi over ${b.transport}, ${b.streams} stream(s): ${r.problem}`);
  });

  test("a stalled consumer pauses the handler, and cancelling stops it", () => {
    assert.ok(results.stalledConsumer.length > 0);
    for (const s of results.stalledConsumer) {
      assert.deepEqual(s.problems, []);
      assert.ok(s.handlerPaused, `${s.mode}, ${s.streams} stream(s): the handler kept producing while the client was not reading`);
      assert.equal(s.handlerStoppedAfterCancel, true);
    }
  });

  test("stalled streams beside a normal client stay open, and a client faster than messagesPerSecond loses nothing", () => {
    assert.ok(results.stalledLoad.length > 0);
    for (const s of results.stalledLoad) {
      assert.deepEqual(s.problems, []);
      assert.equal(s.streamsOpen, s.streams);
    }
    const p = results.pacedClient;
    assert.deepEqual(p.problems, []);
    assert.equal(p.echoed, p.messages);
    assert.ok(p.inOrder);
    assert.equal(p.status, "0");
  });

  test("cold start reaches a first successful RPC with the examples and with generated functions, started each way", () => {
    // sluice start, the built artifact with its compile cache, and without; each with both function
    // sets. The two floors (no Sluice: bare node:http2, and a bundled Fastify) answer the examples' call.
    const expected = ["start", "artifact", "artifact-no-cache"].flatMap((arm) => [`${arm}, examples (functions/)`, `${arm}, 50 generated`]);
    expected.push("floor-fastify, examples (functions/)", "floor-http2, examples (functions/)");
    assert.deepEqual(results.coldStart.map((c) => `${c.arm}, ${c.functions}`).sort(), expected.sort());
    for (const c of results.coldStart) assert.ok(c.ok, `${c.arm}, ${c.functions}: ${c.problem}`);
  });

  test("fixed-rate, workers and proxy arms all answer without a failed call", () => {
    assert.deepEqual(results.fixedRate.map((f) => f.arm).sort(), ["grpc-js", "sluice-grpc"]);
    assert.deepEqual(results.workers.map((w) => w.workers), [1, 2]);
    assert.deepEqual(results.proxy.map((p) => p.arm), ["direct", "raw-proxy", "proxy-route", "function-upstream"]);
    for (const r of [...results.fixedRate, ...results.workers, ...results.proxy].flatMap((x): { failed: number }[] => x.rounds)) {
      assert.equal(r.failed, 0);
    }
    for (const p of results.proxy) {
      for (const r of p.rounds) {
        assert.ok(r.rps > 0 && r.streamOneMps > 0, `${p.arm}: ${JSON.stringify(r)}`);
        // The gateway arms reach the upstream over pooled connections, not one per call.
        if (p.arm !== "direct" && p.arm !== "raw-proxy") assert.ok(r.upstreamConnections >= 1 && r.upstreamConnections <= 4, `${p.arm}: ${r.upstreamConnections} connections`);
      }
    }
  });
});
