// Bad input and failing handlers get the protocol's own error, with the
// right code, and never a crash, a hang or a stack trace.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { after, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeResponseSchema, ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { startGateway } from "../support/gateway.js";
import { envelope, h1Request, h2Request, parseEnvelopes } from "../support/raw-http.js";
import { failure } from "../support/call-outcome.js";
import { TempFunctions } from "../support/temp-functions.js";

const gw = await startGateway({
  args: ["--set", "readMaxBytes=4096", "--set", "writeMaxBytes=4096", "--set", "maxTimeoutMs=2000", "--set", "defaultTimeoutMs=1500"],
});
after(async () => assert.equal(await gw.stop(), 0));

const unaryPath = "/probe.v1.ProbeService/Unary";
const probeBytes = (init: Parameters<typeof create<typeof ProbeRequestSchema>>[1]) => toBinary(ProbeRequestSchema, create(ProbeRequestSchema, init));

const transports = {
  grpc: createGrpcTransport({ baseUrl: gw.url }),
  "grpc-web": createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
  connect: createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
};

describe("unknown method is UNIMPLEMENTED in every protocol", () => {
  test("gRPC: Trailers-Only with grpc-status 12", async () => {
    const res = await h2Request(gw.port, { path: "/probe.v1.ProbeService/Nope", headers: { "content-type": "application/grpc" }, body: envelope(new Uint8Array()) });
    assert.equal(res.status, 200);
    assert.equal(res.headers["grpc-status"], "12");
    assert.match(String(res.headers["grpc-message"]), /SLUICE_RPC_UNIMPLEMENTED/);
  });
  test("gRPC-Web: trailer frame in the body", async () => {
    const res = await h1Request(gw.port, { path: "/nope.v1.Nope/Nope", headers: { "content-type": "application/grpc-web+proto" }, body: envelope(new Uint8Array()) });
    assert.equal(res.status, 200);
    const [frame] = parseEnvelopes(res.body);
    assert.equal(frame?.flags, 0x80);
    assert.match(frame!.data.toString(), /grpc-status: ?12/);
  });
  test("Connect unary: HTTP 404 with a JSON error, as Connect servers answer an unknown path", async () => {
    const res = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Nope", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.body.toString()).code, "unimplemented");
  });
  test("Connect streaming: end-of-stream message with the error", async () => {
    const res = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Nope", headers: { "content-type": "application/connect+json" }, body: envelope(Buffer.from("{}")) });
    const [end] = parseEnvelopes(res.body);
    assert.equal(end?.flags, 0x02);
    assert.equal(JSON.parse(end!.data.toString()).error.code, "unimplemented");
  });
});

describe("malformed requests", () => {
  test("an oversized request on a keep-alive HTTP/1.1 connection: RESOURCE_EXHAUSTED, and the connection serves the next call", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: Uint8Array) => h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc-web+proto" }, body, agent });
    try {
      const big = Buffer.alloc(300 * 1024);
      big.writeUInt32BE(big.byteLength - 5, 1);
      const first = await post(big);
      assert.match(parseEnvelopes(first.body)[0]!.data.toString(), /grpc-status: ?8/);
      const second = await post(envelope(probeBytes({ text: "after" })));
      assert.equal(second.status, 200);
      assert.match(parseEnvelopes(second.body).at(-1)!.data.toString(), /grpc-status: ?0/);
    } finally {
      agent.destroy();
    }
  });
  test("unsupported content type: 415", async () => {
    const res = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "text/plain" }, body: "hello" });
    assert.equal(res.status, 415);
    assert.match(res.body.toString(), /unsupported content type "text\/plain"/);
  });
  test("a Connect GET with an encoding other than proto or json: 415 naming the encoding parameter", async () => {
    const res = await h1Request(gw.port, { method: "GET", path: `${unaryPath}?encoding=xml&message=x&connect=v1` });
    assert.equal(res.status, 415);
    assert.match(res.body.toString(), /^unsupported encoding "xml"; a Connect GET request needs encoding=proto or encoding=json/);
    const none = await h1Request(gw.port, { method: "GET", path: `${unaryPath}?message=x&connect=v1` });
    assert.equal(none.status, 415);
    assert.match(none.body.toString(), /^no encoding parameter/);
  });
  // An unparseable message is INTERNAL, as in grpc-go and grpc-java, with
  // the parser's reason; the process logs nothing alarming and keeps serving.
  test("malformed protobuf (Connect): internal, naming the parse failure", async () => {
    const res = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/proto" }, body: Buffer.from([0x0a, 0xff, 0xff, 0xff]) });
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body.toString()), { code: "internal", message: "parse binary: premature EOF" });
  });
  test("malformed JSON (Connect): invalid_argument", async () => {
    const res = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body.toString()).code, "invalid_argument");
  });
  test("malformed protobuf (gRPC): grpc-status INTERNAL, naming the parse failure", async () => {
    const res = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc" }, body: envelope(Buffer.from([0x0a, 0xff, 0xff])) });
    assert.equal(res.status, 200);
    // Trailers-Only: no message was sent, so the status is in the only HEADERS frame.
    assert.equal(res.headers["grpc-status"], String(Code.Internal));
    assert.match(String(res.headers["grpc-message"]), /^parse binary/);
  });
  test("truncated envelope (gRPC): grpc-status INVALID_ARGUMENT", async () => {
    const body = envelope(probeBytes({ text: "hi" })).subarray(0, 6); // header says 4 bytes, 1 arrives
    const res = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc" }, body });
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.InvalidArgument));
  });
  test("malformed grpc-timeout: INVALID_ARGUMENT", async () => {
    const res = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc", "grpc-timeout": "soon" }, body: envelope(probeBytes({})) });
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.InvalidArgument));
    assert.match(String(res.trailers["grpc-message"] ?? res.headers["grpc-message"]), /timeout/);
  });
  test("an empty grpc-timeout: a node:http2 client (as grpc-js) still gets the grpc-message, whose value ends in a space", async () => {
    // nghttp2 drops a field whose value ends in whitespace: the space is percent-encoded.
    const res = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc", "grpc-timeout": "" }, body: envelope(probeBytes({})) });
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.InvalidArgument));
    const message = res.trailers["grpc-message"] ?? res.headers["grpc-message"];
    assert.equal(typeof message, "string", "grpc-message arrived");
    assert.match(decodeURIComponent(String(message)), /timeout value: $/);
  });
  test("malformed connect-timeout-ms: HTTP 400 invalid_argument", async () => {
    const res = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json", "connect-timeout-ms": "-5" }, body: "{}" });
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body.toString()).code, "invalid_argument");
  });
  test("HTTP/1.0 without a Host header: HTTP 400 invalid_argument, not a stuck call", async () => {
    const socket = net.connect(gw.port, "127.0.0.1");
    await once(socket, "connect");
    socket.end("POST /probe.v1.ProbeService/Unary HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    const chunks: Buffer[] = [];
    for await (const c of socket) chunks.push(c as Buffer);
    const answer = Buffer.concat(chunks).toString();
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.match(answer, /"code":"invalid_argument","message":"malformed request: unable to determine request authority/);
  });
  test("oversized request headers: HTTP 431, the process keeps serving", async () => {
    const res = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json", "x-big": "x".repeat(32 * 1024) }, body: "{}" });
    assert.equal(res.status, 431);
    const ok = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(ok.status, 200);
  });
});

for (const [name, transport] of Object.entries(transports)) {
  describe(`handler errors over ${name}`, () => {
    const probe = client(ProbeService, transport);

    test("a ConnectError keeps its code, message, metadata and details", async () => {
      const err = await failure(probe.unary({ fail: { code: Code.PermissionDenied, message: "not yours: /a/b", metadata: { "x-reason": "owner-only" }, withDetail: true } }));
      assert.equal(err.code, Code.PermissionDenied);
      assert.equal(err.rawMessage, "not yours: /a/b");
      assert.equal(err.metadata.get("x-reason"), "owner-only");
      const [detail] = err.findDetails(ProbeDetailSchema);
      assert.equal(detail?.reason, "asked for");
      assert.equal(detail?.at, 42n);
    });

    test("a plain Error becomes INTERNAL with the request id and no stack", async () => {
      const err = await failure(probe.unary({ fail: { plainError: true, message: "boom" } }));
      assert.equal(err.code, Code.Internal);
      assert.match(err.rawMessage, /^SLUICE_RPC_INTERNAL: internal error; the server log has the details under request id (\S+)$/);
      assert.doesNotMatch(err.rawMessage, /boom|secret|at |\.ts|\.js/);
      const requestId = /request id (\S+)$/.exec(err.rawMessage)![1]!;
      // The log has the whole story under that request id.
      await gw.waitForOutput(new RegExp(`"reqId":"${requestId}".*plain failure: boom`));
    });

    test("a response that does not fit the response type: INTERNAL SLUICE_RPC_BAD_RESPONSE, the field path in the log", async () => {
      for (const call of [() => probe.unary({ badResponse: true }), async () => {
        for await (const _ of probe.serverStream({ badResponse: true, count: 2 })) assert.fail("no message may be sent");
      }]) {
        const err = await failure(call());
        assert.equal(err.code, Code.Internal);
        assert.match(err.rawMessage, /^SLUICE_RPC_BAD_RESPONSE: internal error: the function returned a response that does not match its schema; the server log has the details under request id (\S+)$/);
        const requestId = /request id (\S+)$/.exec(err.rawMessage)![1]!;
        await gw.waitForOutput(new RegExp(`"reqId":"${requestId}".*"code":"SLUICE_RPC_BAD_RESPONSE".*"field":"text".*field text: expected a string, got the number 5`));
      }
    });

    test("a request message over readMaxBytes: RESOURCE_EXHAUSTED", async () => {
      const err = await failure(probe.unary({ payload: new Uint8Array(8192) }));
      assert.equal(err.code, Code.ResourceExhausted);
    });

    test("a response message over writeMaxBytes: RESOURCE_EXHAUSTED", async () => {
      const err = await failure(probe.unary({ responseBytes: 8192 }));
      assert.equal(err.code, Code.ResourceExhausted);
    });

    test("a client-stream error ends the call with the handler's error", async () => {
      const err = await failure(probe.clientStream((async function* () {
        yield { text: "one" };
        yield { fail: { code: Code.FailedPrecondition, message: "second one is bad" } };
      })()));
      assert.equal(err.code, Code.FailedPrecondition);
    });

    test("the gateway clamps a long client deadline to maxTimeoutMs", async () => {
      const res = await probe.unary({ text: "t" }, { timeoutMs: 60_000 });
      assert.ok(res.timeoutMs > 0n && res.timeoutMs <= 2000n, `handler saw ${res.timeoutMs} ms`);
    });

    test("a call without a deadline shows none to the handler (the gateway still enforces defaultTimeoutMs)", async () => {
      const res = await probe.unary({ text: "t" });
      assert.equal(res.timeoutMs, 0n);
      const err = await failure(probe.unary({ sleepMs: 10_000, ignoreSignal: true }));
      assert.equal(err.code, Code.DeadlineExceeded);
    });
  });
}

describe("deadlines are enforced by the gateway, even on handlers that ignore them", () => {
  test("unary handler sleeping past its grpc-timeout: DEADLINE_EXCEEDED from the server", async () => {
    // A raw request: no client-side timer, so only the gateway can end it.
    const res = await h2Request(gw.port, {
      path: unaryPath,
      headers: { "content-type": "application/grpc", "grpc-timeout": "200m" },
      body: envelope(probeBytes({ sleepMs: 10_000, ignoreSignal: true })),
    });
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.DeadlineExceeded));
  });
  test("server stream that never stops: ends at defaultTimeoutMs with DEADLINE_EXCEEDED", async () => {
    const res = await h2Request(gw.port, {
      path: "/probe.v1.ProbeService/ServerStream",
      headers: { "content-type": "application/grpc" },
      body: envelope(probeBytes({ count: 0, sleepMs: 50, ignoreSignal: true })),
    });
    const frames = parseEnvelopes(res.body);
    assert.ok(frames.length > 3, "it streamed before the deadline");
    assert.equal(fromBinary(ProbeResponseSchema, frames[0]!.data).sequence, 1n);
    assert.equal(res.trailers["grpc-status"], String(Code.DeadlineExceeded));
  });
});

test("a promise rejection a function leaves unhandled is logged; the gateway keeps serving", async () => {
  const probe = client(ProbeService, transports.grpc);
  assert.equal((await probe.unary({ text: "leaky", fail: { leakRejection: true } })).text, "leaky");
  await gw.waitForOutput(/a promise nobody awaited.*"msg":"unhandled promise rejection/);
  assert.equal((await probe.unary({ text: "still here" })).text, "still here");
});

describe("Connect GET and request ids", () => {
  test("GET works for a NO_SIDE_EFFECTS method", async () => {
    const message = encodeURIComponent(JSON.stringify({ text: "via GET" }));
    const res = await h1Request(gw.port, { method: "GET", path: `${unaryPath}?encoding=json&message=${message}&connect=v1` });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).text, "via GET");
  });
  test("GET is refused for other methods", async () => {
    const res = await h1Request(gw.port, { method: "GET", path: "/probe.v1.ProbeService/ServerStream?encoding=json&message=%7B%7D&connect=v1" });
    assert.equal(res.status, 405);
  });
  test("every response carries a request id; a sane incoming one is kept", async () => {
    const fresh = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json" }, body: "{}" });
    assert.match(String(fresh.headers["x-request-id"]), /^[0-9a-f]{8}-[0-9a-z]+$/);
    const kept = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json", "x-request-id": "trace-123" }, body: "{}" });
    assert.equal(kept.headers["x-request-id"], "trace-123");
  });
});

describe("gRPC: an error before any response is Trailers-Only", () => {
  /** The response's HEADERS frames as node:http2 reports them: the head (and whether it ended the stream), then trailers if any. */
  function frames(body: Uint8Array, headers: Record<string, string> = {}, url = gw.url): Promise<{ head: http2.IncomingHttpHeaders; endedWithHead: boolean; trailers: http2.IncomingHttpHeaders | undefined }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(url);
      session.on("error", reject);
      const stream = session.request({ ":method": "POST", ":path": unaryPath, "content-type": "application/grpc", te: "trailers", ...headers });
      let head: http2.IncomingHttpHeaders = {};
      let endedWithHead = false;
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.on("response", (h, flags) => {
        head = h;
        endedWithHead = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      });
      stream.on("trailers", (t) => (trailers = t));
      stream.resume();
      stream.on("close", () => {
        session.close();
        resolve({ head, endedWithHead, trailers });
      });
      stream.end(body);
    });
  }

  test("a handler's error, a request over readMaxBytes: the status in the one HEADERS frame that ends the stream", async () => {
    const failed = await frames(envelope(probeBytes({ fail: { code: Code.NotFound, message: "no such thing", metadata: { "x-why": "asked" } } })));
    assert.equal(failed.endedWithHead, true);
    assert.equal(failed.trailers, undefined);
    assert.equal(failed.head["grpc-status"], String(Code.NotFound));
    assert.equal(failed.head["grpc-message"], "no such thing");
    assert.equal(failed.head["x-why"], "asked", "the error's metadata");
    assert.equal(failed.head["content-type"], "application/grpc+proto");
    assert.ok(failed.head["x-request-id"]);
    const tooBig = await frames(envelope(new Uint8Array(8192)));
    assert.equal(tooBig.endedWithHead, true);
    assert.equal(tooBig.head["grpc-status"], String(Code.ResourceExhausted));
  });

  test("a handler that set response headers before failing keeps them apart from its trailers", async (t) => {
    const fns = new TempFunctions("headers-then-error");
    fns.copy("test/fixtures/functions/probe.ts", "probe.ts", (src) => src.replace(
      "      failIfAsked(req);\n      ctx.responseHeader.set(\"x-probe-version\", version);",
      "      ctx.responseHeader.set(\"x-probe-version\", version);\n      failIfAsked(req);",
    ));
    const own = await startGateway({ functionsDir: fns.dir });
    t.after(async () => {
      await own.stop();
      fns.cleanup();
    });
    const failed = await frames(envelope(probeBytes({ fail: { code: Code.NotFound, message: "no such thing" } })), {}, own.url);
    assert.equal(failed.endedWithHead, false);
    assert.equal(failed.head["x-probe-version"], "v1");
    assert.equal(failed.head["grpc-status"], undefined);
    assert.equal(failed.trailers?.["grpc-status"], String(Code.NotFound));
    const ok = await frames(envelope(probeBytes({ text: "fine" })));
    assert.equal(ok.endedWithHead, false, "a response with a message: head, message, trailers");
    assert.equal(ok.trailers?.["grpc-status"], "0");
  });

  // Go's HTTP/2 client, sending a request with a content-length, can end
  // its body short (an empty DATA with END_STREAM) once it has the headers of
  // an answer; a body shorter than its content-length is a malformed request
  // (RST_STREAM PROTOCOL_ERROR). With the status in those first headers, the
  // client has it before anything it does next.
  test("a client that ends its body short once it has the head still reads the status", async () => {
    const session = http2.connect(gw.url);
    const declared = 64 * 1024;
    const stream = session.request({ ":method": "POST", ":path": unaryPath, "content-type": "application/grpc", te: "trailers", "content-length": String(declared) });
    const head = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", (h) => resolve(h)));
    const over = Buffer.alloc(16 * 1024);
    over.writeUInt32BE(declared - 5, 1);
    stream.write(over);
    const h = await head;
    stream.end();
    await once(stream, "close");
    session.close();
    assert.equal(h["grpc-status"], String(Code.ResourceExhausted));
  });
});
