// Typed Connect clients on the pooled connections (what ctx.upstream will
// return): every stream kind, in each upstream protocol, against real
// servers of other implementations (grpc-js for gRPC, connect-node for
// Connect and gRPC-Web), with what a function's call passes on.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeRequestSchema, ProbeResponseSchema, ProbeService, type ProbeRequest } from "../gen/probe/v1/probe_pb.js";
import { failure } from "../support/call-outcome.js";
import { envelope } from "../support/raw-http.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamRegistry } from "../../src/upstream/upstream-registry.js";

const protocols = [
  { protocol: "grpc", impl: "grpc-js" },
  { protocol: "connect", impl: "connect" },
  { protocol: "grpc-web", impl: "connect" },
] as const;

async function* requests(...texts: string[]): AsyncGenerator<ProbeRequest> {
  for (const text of texts) yield create(ProbeRequestSchema, { text, payload: new Uint8Array(text.length) });
}

for (const { protocol, impl } of protocols) {
  describe(`${protocol} upstream (${impl})`, () => {
    let server: UpstreamProcess;
    let registry: UpstreamRegistry;
    before(async () => {
      server = await startUpstream({ impl });
      registry = upstreamRegistry({ backend: { url: server.url, protocol, forwardHeaders: ["x-forward-me"] } });
    });
    after(async () => {
      await registry.close(1000);
      await server.kill();
    });

    test("unary, with what the calling function passes on", async () => {
      const incoming = new Headers({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "a=1", "x-forward-me": "yes", "x-not-forwarded": "no" });
      const client = registry.client(ProbeService, "backend", { requestId: "req-42", timeoutMs: 5_000, requestHeader: incoming });
      const res = await client.unary({ text: "hello" });
      assert.equal(res.text, "hello");
      assert.equal(res.headers["x-request-id"], "req-42");
      assert.equal(res.headers["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      assert.equal(res.headers["tracestate"], "a=1");
      assert.equal(res.headers["x-forward-me"], "yes");
      assert.equal(res.headers["x-not-forwarded"], undefined);
      // The deadline arrives as the protocol's timeout header, no longer than what was left.
      const timeout = protocol === "connect" ? Number(res.headers["connect-timeout-ms"]) : parseInt(res.headers["grpc-timeout"] ?? "", 10);
      assert.ok(timeout > 0 && timeout <= 5_000, `timeout header ${timeout}`);
    });

    test("a header the call sets itself wins over the one passed on", async () => {
      const client = registry.client(ProbeService, "backend", { requestId: "req-passed-on" });
      const res = await client.unary({ text: "h" }, { headers: { "X-Request-Id": "req-own" } });
      assert.equal(res.headers["x-request-id"], "req-own");
    });

    test("an answer larger than the upstream's readMaxBytes fails with RESOURCE_EXHAUSTED, and the stream is closed", async () => {
      const small = upstreamRegistry({ backend: { url: server.url, protocol, readMaxBytes: 1024 } });
      try {
        const client = small.client(ProbeService, "backend");
        const err = await client.unary({ text: "big", responseBytes: 4096 }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.ResourceExhausted, String(err));
        assert.match(err.rawMessage, /readMaxBytes 1024/);
        assert.equal((await client.unary({ text: "fits", responseBytes: 100 })).payload.byteLength, 100);
        await eventually(() => small.get("backend").state().activeStreams === 0, 10_000, "no open stream in the pool");
      } finally {
        await small.close(1000);
      }
    });

    test("a request that does not fit its schema fails with INTERNAL naming the field, and is not sent", async () => {
      const client = registry.client(ProbeService, "backend");
      const before = (await server.stats()).totalCalls;
      const err = await client.unary({ text: 42 } as never).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.Internal);
      assert.match(err.rawMessage, /^the request to upstream backend is not a valid probe\.v1\.ProbeRequest: text: /);
      assert.equal((await server.stats()).totalCalls, before);
    });

    test("a call's own shorter timeout wins over the caller's deadline", async () => {
      const client = registry.client(ProbeService, "backend", { timeoutMs: 60_000 });
      const res = await client.unary({ text: "t" }, { timeoutMs: 2_000 });
      const timeout = protocol === "connect" ? Number(res.headers["connect-timeout-ms"]) : parseInt(res.headers["grpc-timeout"] ?? "", 10);
      assert.ok(timeout > 0 && timeout <= 2_000, `timeout header ${timeout}`);
    });

    test("server streaming", async () => {
      const client = registry.client(ProbeService, "backend");
      const seqs: bigint[] = [];
      for await (const m of client.serverStream({ text: "s", count: 5 })) seqs.push(m.sequence);
      assert.deepEqual(seqs, [1n, 2n, 3n, 4n, 5n]);
    });

    test("client streaming", async () => {
      const client = registry.client(ProbeService, "backend");
      const summary = await client.clientStream(requests("a", "bb", "ccc"));
      assert.equal(summary.count, 3n);
      assert.equal(summary.bytes, 6n);
      assert.deepEqual(summary.texts, ["a", "bb", "ccc"]);
    });

    test("bidi streaming: answers interleave with requests", async () => {
      const client = registry.client(ProbeService, "backend");
      const out: string[] = [];
      // Each request is sent only after the previous answer arrived: full duplex on the pooled stream.
      let release!: () => void;
      let gate = new Promise<void>((r) => (release = r));
      async function* lockstep() {
        for (const text of ["x", "y", "z"]) {
          yield create(ProbeRequestSchema, { text });
          await gate;
          gate = new Promise<void>((r) => (release = r));
        }
      }
      for await (const m of client.bidi(lockstep())) {
        out.push(`${m.text}${m.sequence}`);
        release();
      }
      assert.deepEqual(out, ["x1", "y2", "z3"]);
    });

    test("the upstream's error reaches the caller as its ConnectError, with its metadata", async () => {
      const client = registry.client(ProbeService, "backend");
      const err = await client.unary({ text: "e", fail: { code: Code.NotFound, message: "no such user", metadata: { "x-why": "gone" } } }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.NotFound);
      assert.equal(err.rawMessage, "no such user");
      assert.equal(err.metadata.get("x-why"), "gone");
      const streamErr = await (async () => {
        for await (const _ of client.serverStream({ text: "e", count: 2, fail: { code: Code.PermissionDenied, message: "stop" } }));
      })().then(() => undefined, (e: unknown) => e);
      assert.ok(streamErr instanceof ConnectError);
      assert.equal(streamErr.code, Code.PermissionDenied);
    });

    test("the caller cancels: the upstream stream is cancelled, and nothing is left open", async () => {
      const before = await server.stats();
      const ac = new AbortController();
      const client = registry.client(ProbeService, "backend", { signal: ac.signal });
      let received = 0;
      const err = await (async () => {
        for await (const _ of client.serverStream({ text: "forever", count: 0, sleepMs: 20 })) {
          if (++received === 2) ac.abort(new ConnectError("the client went away", Code.Canceled));
        }
      })().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.Canceled, String(err));
      await eventually(async () => (await server.stats()).cancelledCalls > before.cancelledCalls, 10_000, "the upstream to see the cancellation");
      await eventually(() => registry.get("backend").state().activeStreams === 0, 10_000, "no open stream in the pool");
    });

    test("the caller's deadline ends the upstream call with DEADLINE_EXCEEDED", async () => {
      const client = registry.client(ProbeService, "backend", { timeoutMs: 200 });
      const err = await client.unary({ text: "slow", sleepMs: 5_000 }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.DeadlineExceeded);
      await eventually(() => registry.get("backend").state().activeStreams === 0, 10_000, "no open stream in the pool");
    });

    test("calls share one pooled connection", async () => {
      const client = registry.client(ProbeService, "backend");
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.unary({ text: `p${i}` })));
      const stats = await server.stats();
      assert.equal(stats.connections, 1);
      assert.equal(registry.get("backend").state().connections, 1);
    });
  });
}

describe("a gRPC upstream that breaks the protocol (a raw node:http2 server)", () => {
  test("a unary call answered with a stream of messages fails with UNIMPLEMENTED at the second, and the upstream's stream is cancelled", { timeout: 20_000 }, async () => {
    let cancelled = false;
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      const frame = envelope(toBinary(ProbeResponseSchema, create(ProbeResponseSchema, { text: "again" })));
      const timer = setInterval(() => stream.write(frame), 5);
      stream.on("close", () => {
        clearInterval(timer);
        cancelled = true;
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const registry = upstreamRegistry({ endless: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } });
    try {
      const e = await failure(registry.client(ProbeService, "endless").unary({ text: "x" }));
      assert.equal(e.code, Code.Unimplemented);
      assert.equal(e.rawMessage, "protocol error: the upstream answered a unary method with more than one message");
      await eventually(() => cancelled, 10_000, "the upstream's stream to be cancelled");
      await eventually(() => registry.get("endless").state().activeStreams === 0, 10_000, "no open stream in the pool");
    } finally {
      await registry.close(500);
      server.close();
    }
  });
});
