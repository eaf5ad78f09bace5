// The raw way in, for a proxy that forwards frames without decoding them:
// Upstream.openStream (one pooled HTTP/2 stream) and callUpstream (the same,
// with the retry policy and replay of the request bytes).
import assert from "node:assert/strict";
import type http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeRequestSchema, ProbeResponseSchema } from "../gen/probe/v1/probe_pb.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import { callUpstream } from "../../src/upstream/upstream-call.js";
import { streamFailure } from "../../src/upstream/stream-outcome.js";
import type { UpstreamRegistry } from "../../src/upstream/upstream-registry.js";

let up: UpstreamProcess;
let reg: UpstreamRegistry;
before(async () => {
  up = await startUpstream();
  reg = upstreamRegistry({ raw: { url: up.url, retry: { initialBackoffMs: 1, maxBackoffMs: 2 } } });
});
after(async () => {
  await reg.close(500);
  await up.kill();
});

/** One gRPC message frame. */
function envelope(req: MessageInitShape<typeof ProbeRequestSchema>): Buffer {
  const bytes = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.byteLength, 1);
  return Buffer.concat([head, bytes]);
}
function messages(body: Buffer) {
  const out = [];
  for (let at = 0; at + 5 <= body.byteLength;) {
    const len = body.readUInt32BE(at + 1);
    out.push(fromBinary(ProbeResponseSchema, body.subarray(at + 5, at + 5 + len)));
    at += 5 + len;
  }
  return out;
}
const grpcHeaders = (method: string): http2.OutgoingHttpHeaders => ({
  ":path": `/probe.v1.ProbeService/${method}`,
  "content-type": "application/grpc",
  // Hop-by-hop headers of an HTTP/1.1 client leg: illegal on HTTP/2, dropped.
  connection: "keep-alive",
  host: "gateway.example",
  "transfer-encoding": "chunked",
});

describe("openStream", () => {
  test("a pooled HTTP/2 stream, with the deadline as grpc-timeout", async () => {
    const stream = await reg.get("raw").openStream(grpcHeaders("Unary"), { deadline: Date.now() + 5_000 });
    stream.end(envelope({ text: "raw" }));
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("trailers", (t) => (trailers = t));
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const [res] = messages(Buffer.concat(chunks));
    assert.equal(res!.text, "raw");
    const timeout = parseInt(res!.headers["grpc-timeout"] ?? "", 10);
    assert.ok(timeout > 0 && timeout <= 5_000, `grpc-timeout ${timeout}`);
    assert.equal(trailers["grpc-status"], "0");
    assert.equal(streamFailure(stream), undefined);
    await eventually(() => reg.get("raw").state().activeStreams === 0, 5_000, "the stream to be released");
  });

  test("the caller's signal resets the stream; streamFailure says why", async () => {
    const ac = new AbortController();
    const stream = await reg.get("raw").openStream(grpcHeaders("ServerStream"), { signal: ac.signal });
    stream.end(envelope({ text: "feed", count: 0, sleepMs: 20 }));
    const before = (await up.stats()).cancelledCalls;
    for await (const _ of stream) {
      ac.abort(new ConnectError("client left", Code.Canceled));
    }
    const f = streamFailure(stream);
    assert.equal(f?.code, Code.Canceled);
    assert.equal(f?.rawMessage, "client left");
    await eventually(async () => (await up.stats()).cancelledCalls > before, 5_000, "the upstream to see the cancellation");
  });

  test("the deadline resets the stream with DEADLINE_EXCEEDED", async () => {
    const stream = await reg.get("raw").openStream(grpcHeaders("Unary"), { deadline: Date.now() + 100 });
    stream.end(envelope({ text: "slow", sleepMs: 5_000 }));
    for await (const _ of stream);
    const f = streamFailure(stream);
    assert.equal(f?.code, Code.DeadlineExceeded);
    assert.match(f!.rawMessage, /^SLUICE_UPSTREAM_DEADLINE_EXCEEDED: upstream raw: the call's deadline passed while waiting for the upstream's answer/);
  });
});

describe("callUpstream", () => {
  test("retries an attempt that ended with UNAVAILABLE, replaying the request bytes", async () => {
    async function* body() {
      yield envelope({ text: "flaky:1:raw-retry" });
    }
    const res = await callUpstream(reg.get("raw"), { headers: grpcHeaders("Unary"), body: body() }, { deadline: Date.now() + 10_000 });
    assert.equal(res.attempts, 2);
    assert.equal(res.status, 200);
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c);
    assert.equal(messages(Buffer.concat(chunks))[0]!.sequence, 2n);
    assert.equal(res.trailers["grpc-status"], "0");
    assert.equal(res.endpoint, up.url);
  });

  test("a call may override the upstream's retry policy (a route's own)", async () => {
    async function* body() {
      yield envelope({ text: "flaky:1:raw-override" });
    }
    const res = await callUpstream(reg.get("raw"), { headers: grpcHeaders("Unary"), body: body() }, { retry: { maxAttempts: 1 } });
    for await (const _ of res.body);
    assert.equal(res.attempts, 1);
    assert.equal(res.headers["grpc-status"] ?? res.trailers["grpc-status"], String(Code.Unavailable));
  });

  test("an answer with an error status that is not retried is the response, for the caller to translate", async () => {
    async function* body() {
      yield envelope({ text: "nf", fail: { code: Code.NotFound, message: "nobody" } });
    }
    const res = await callUpstream(reg.get("raw"), { headers: grpcHeaders("Unary"), body: body() });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c);
    assert.equal(chunks.length, 0);
    const status = res.headers["grpc-status"] ?? res.trailers["grpc-status"];
    assert.equal(status, String(Code.NotFound));
    assert.equal(res.attempts, 1);
  });

  test("the upstream dies mid-stream: the body throws UNAVAILABLE naming the upstream and endpoint", async () => {
    const doomed = await startUpstream();
    const r = upstreamRegistry({ doomed: { url: doomed.url } });
    try {
      async function* body() {
        yield envelope({ text: "feed", count: 0, sleepMs: 20 });
      }
      const res = await callUpstream(r.get("doomed"), { headers: grpcHeaders("ServerStream"), body: body() });
      let n = 0;
      const e = await (async () => {
        for await (const _ of res.body) if (++n === 2) await doomed.kill();
      })().then(() => undefined, (err: unknown) => err);
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.Unavailable);
      assert.match(e.rawMessage, new RegExp(`^SLUICE_UPSTREAM_CONNECTION_LOST: upstream doomed: the connection to ${doomed.url.replace(/\./g, "\\.")} was lost`));
      await eventually(() => r.get("doomed").state().activeStreams === 0, 5_000, "no open stream");
    } finally {
      await r.close(200);
      await doomed.kill();
    }
  });
});
