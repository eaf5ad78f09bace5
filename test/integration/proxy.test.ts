// Proxy routes: the probe service routed with no code to real upstream
// servers (grpc-js for gRPC; connect-node for gRPC, Connect and gRPC-Web),
// called through the gateway in every client protocol: all four stream
// kinds, metadata, errors with details, deadlines, and an upstream that is
// down. Plus ctx.upstream from a function file.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { create, toBinary } from "@bufbuild/protobuf";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client, from, transports } from "../support/clients.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { createGrpcWebTextTransport } from "../support/grpc-web-text-client.js";
import { envelope, h1Request } from "../support/raw-http.js";
import { eventually, startUpstream, type UpstreamProcess } from "../support/upstream-process.js";
import { failure } from "../support/call-outcome.js";

const upstreamKinds = [
  { protocol: "grpc", impl: "grpc-js" },
  { protocol: "connect", impl: "connect" },
  { protocol: "grpc-web", impl: "connect" },
] as const;

function configFile(config: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-proxy-"));
  const file = path.join(dir, "sluice.config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

for (const { protocol, impl } of upstreamKinds) {
  describe(`proxy route to a ${protocol} upstream (${impl})`, () => {
    let upstream: UpstreamProcess;
    let gw: RunningGateway;
    before(async () => {
      upstream = await startUpstream({ impl });
      const config = configFile({
        protoGenDir: path.join(root, "test/gen"),
        upstreams: { backend: { url: upstream.url, protocol, retry: { maxAttempts: 1 } } },
        routes: { "probe.v1.ProbeService": { upstream: "backend", setHeaders: { "x-forward-me": "set by the route" } } },
      });
      gw = await startGateway({ functionsDir: path.join(root, "functions"), args: ["--config", config] });
    });
    after(async () => {
      await gw?.stop();
      await upstream?.kill();
    });

    test("the routes table shows the proxy route", () => {
      assert.match(gw.output(), /probe\.v1\.ProbeService\s+Unary\s+unary\s+.*upstream backend \(/);
    });

    for (const [name, transport] of Object.entries(transports(`http://127.0.0.1:0`))) {
      void transport;
      test(`${name}: unary, server streaming and client streaming reach the upstream and come back`, async () => {
        const t = transports(gw.url)[name]!;
        const probe = client(ProbeService, t);
        const headers = new Headers({ "x-request-id": "proxy-test-1", authorization: "Bearer abc", "x-not-forwarded": "custom" });
        const res = await probe.unary({ text: "hello", responseBytes: 3 }, { headers, timeoutMs: 5_000 });
        assert.equal(res.text, "hello");
        assert.equal(res.payload.byteLength, 3);
        // End-to-end headers pass; the route's own are set; the request id travels.
        assert.equal(res.headers["x-request-id"], "proxy-test-1");
        assert.equal(res.headers.authorization, "Bearer abc");
        assert.equal(res.headers["x-not-forwarded"], "custom");
        assert.equal(res.headers["x-forward-me"], "set by the route");
        // The client's deadline arrives in the upstream's protocol, no longer than it was.
        const timeout = protocol === "connect" ? Number(res.headers["connect-timeout-ms"]) : parseInt(res.headers["grpc-timeout"] ?? "", 10);
        assert.ok(timeout > 0 && timeout <= 5_000, `timeout ${timeout}`);

        const seqs: bigint[] = [];
        for await (const m of probe.serverStream({ text: "s", count: 5 })) seqs.push(m.sequence);
        assert.deepEqual(seqs, [1n, 2n, 3n, 4n, 5n]);

        const summary = await probe.clientStream(from([{ text: "a", payload: new Uint8Array(2) }, { text: "b", payload: new Uint8Array(3) }]));
        assert.equal(summary.count, 2n);
        assert.equal(summary.bytes, 5n);
        assert.deepEqual(summary.texts, ["a", "b"]);
      });

      test(`${name}: the upstream's error keeps its code, message, metadata and details`, async () => {
        const probe = client(ProbeService, transports(gw.url)[name]!);
        const err = await failure(probe.unary({ fail: { code: Code.FailedPrecondition, message: "not now: 100%", metadata: { "x-why": "because" } } }));
        assert.equal(err.code, Code.FailedPrecondition);
        assert.equal(err.rawMessage, "not now: 100%");
        assert.equal(err.metadata.get("x-why"), "because");
        const streamErr = await failure((async () => {
          for await (const _ of probe.serverStream({ count: 2, fail: { code: Code.Aborted, message: "mid-stream" } })) { /* two messages, then the error */ }
        })());
        assert.equal(streamErr.code, Code.Aborted);
        assert.equal(streamErr.rawMessage, "mid-stream");
        void ProbeDetailSchema;
      });

      if (!name.includes("h1.1")) {
        test(`${name}: bidi`, async () => {
          const probe = client(ProbeService, transports(gw.url)[name]!);
          const texts: string[] = [];
          for await (const m of probe.bidi(from([{ text: "x" }, { text: "y" }, { text: "z" }]))) texts.push(m.text);
          assert.deepEqual(texts, ["x", "y", "z"]);
        });
      }
    }

    for (const httpVersion of ["1.1", "2"] as const) {
      test(`grpc-web text h${httpVersion}: a base64 client is served through the route (decoded and encoded at the gateway)`, async () => {
        const probe = client(ProbeService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion }));
        const res = await probe.unary({ text: "text mode", responseBytes: 2 }, { headers: { "x-request-id": "proxy-text-1" } });
        assert.equal(res.text, "text mode");
        assert.equal(res.headers["x-request-id"], "proxy-text-1");
        const seqs: bigint[] = [];
        for await (const m of probe.serverStream({ text: "s", count: 3 })) seqs.push(m.sequence);
        assert.deepEqual(seqs, [1n, 2n, 3n]);
        const err = await failure(probe.unary({ fail: { code: Code.FailedPrecondition, message: "not now", metadata: { "x-why": "because" } } }));
        assert.equal(err.code, Code.FailedPrecondition);
        assert.equal(err.metadata.get("x-why"), "because");
      });
    }

    test("backpressure crosses the proxy: a client that stops reading stops the upstream's stream", async () => {
      const session = http2.connect(gw.url);
      session.on("error", () => {});
      const stream = session.request({ ":method": "POST", ":path": "/probe.v1.ProbeService/ServerStream", "content-type": "application/grpc" });
      stream.on("error", () => {});
      stream.end(envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "stall", count: 0, responseBytes: 1024 }))));
      // Read one chunk, then stop reading: flow control windows fill up on the way.
      await once(stream, "data");
      stream.pause();
      const streamed = async () => (await upstream.stats()).streamedMessages;
      let last = await streamed();
      let steady = 0;
      for (let i = 0; i < 60 && steady < 3; i++) {
        await sleep(250);
        const now = await streamed();
        steady = now === last ? steady + 1 : 0;
        last = now;
      }
      assert.equal(steady, 3, `the upstream kept streaming (${last} messages) to a client that does not read`);
      // Bounded by the windows and buffers on the way (64 KiB windows, 1 KiB messages), not by the stream.
      assert.ok(last < 2_000, `${last} messages produced for a stalled client`);
      const cancelledBefore = (await upstream.stats()).cancelledCalls;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      session.close();
      await eventually(async () => (await upstream.stats()).cancelledCalls > cancelledBefore, 10_000, "the upstream call to be cancelled");
    });

    test("bidi over HTTP/1.1 is the protocol's clear error (HTTP 505)", async () => {
      const res = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Bidi", headers: { "content-type": "application/connect+proto" }, body: Buffer.alloc(0) });
      assert.equal(res.status, 505);
    });

    test("the function examples still serve beside the proxy route", async () => {
      const { GreetService } = await import("../../proto/gen/greet/v1/greet_pb.js");
      const res = await client(GreetService, transports(gw.url)["grpc h2"]!).greet({ name: "Ada" });
      assert.equal(res.greeting, "Hello, Ada!");
    });
  });
}

describe("an upstream that is down", () => {
  let gw: RunningGateway;
  before(async () => {
    const config = configFile({
      protoGenDir: path.join(root, "test/gen"),
      upstreams: { gone: { url: "http://127.0.0.1:9", connectTimeoutMs: 1_000 } },
      routes: { "probe.v1.ProbeService/Unary": { upstream: "gone" } },
    });
    gw = await startGateway({ functionsDir: path.join(root, "functions"), args: ["--config", config] });
  });
  after(async () => assert.equal(await gw.stop(), 0));

  test("calls fail fast with UNAVAILABLE naming the upstream; the gateway stays ready and /readyz shows the upstream", async () => {
    const probe = client(ProbeService, transports(gw.url)["grpc h2"]!);
    const err = await failure(probe.unary({ text: "x" }));
    assert.equal(err.code, Code.Unavailable);
    assert.match(err.rawMessage, /SLUICE_UPSTREAM_(CONNECT_FAILED|NO_HEALTHY_ENDPOINT).*gone/);
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; upstreams: Record<string, { available: boolean; endpoints: { address: string }[] }> };
    assert.equal(body.status, "ready");
    assert.equal(body.upstreams.gone?.endpoints[0]?.address, "http://127.0.0.1:9");
  });

  test("only the routed method is proxied: the service's other methods are not served", async () => {
    const probe = client(ProbeService, transports(gw.url)["grpc h2"]!);
    const err = await failure(probe.serverStream({ count: 1 })[Symbol.asyncIterator]().next());
    assert.equal(err.code, Code.Unimplemented);
  });
});
