// gRPC-Web text mode (application/grpc-web-text), against the real gateway:
// Connect-ES's gRPC-Web protocol over a base64 client (every stream kind,
// errors with details, deadlines, limits, HTTP/1.1 and HTTP/2), and raw
// requests for what only the wire shows: the response content type, per
// message base64 pieces, early errors in text, bad base64.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeResponseSchema, ProbeService } from "../gen/probe/v1/probe_pb.js";
import { Base64Decoder } from "../../src/protocol/grpc-web/base64-decoder.js";
import { client, from } from "../support/clients.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";
import { createGrpcWebTextTransport, type TextWire } from "../support/grpc-web-text-client.js";
import { envelope, h1Request, h2Request, parseEnvelopes, type RawResponse } from "../support/raw-http.js";

const origin = "https://app.example";

function decodeText(body: Buffer): Buffer {
  const d = new Base64Decoder();
  const out = d.push(body);
  assert.ok(Buffer.isBuffer(out), `not base64: ${body.toString("latin1")}`);
  assert.equal(d.end(), undefined);
  return out;
}

function trailerOf(body: Buffer): Record<string, string> {
  const frames = parseEnvelopes(body);
  const last = frames.at(-1);
  assert.ok(last && last.flags === 0x80, "the body ends with a trailer frame");
  const out: Record<string, string> = {};
  for (const line of last.data.toString().split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

function probeBody(req: Parameters<typeof create<typeof ProbeRequestSchema>>[1]): Buffer {
  return envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)));
}

describe("gRPC-Web text", () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ args: ["--set", "readMaxBytes=2048", "--set", `cors.origins=${origin}`] });
  });
  after(async () => {
    assert.equal(await gw.stop(), 0, gw.output());
  });

  for (const httpVersion of ["1.1", "2"] as const) {
    test(`HTTP/${httpVersion}: unary and server streaming through Connect-ES on a base64 client`, async () => {
      const wire: TextWire = { contentType: null, chunks: [] };
      const probe = client(ProbeService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion, wire }));
      let trailer: Headers | undefined;
      const res = await probe.unary({ text: "hello", responseBytes: 7 }, { headers: { "x-probe": "p" }, timeoutMs: 5_000, onTrailer: (t) => (trailer = t) });
      assert.equal(res.text, "hello");
      assert.equal(res.payload.byteLength, 7);
      assert.equal(res.headers["x-probe"], "p");
      assert.equal(res.headers["content-type"], "application/grpc-web-text");
      assert.ok(Number.parseInt(res.headers["grpc-timeout"] ?? "", 10) > 0);
      assert.equal(trailer?.get("x-probe-trailer"), "done");
      assert.equal(wire.contentType, "application/grpc-web-text+proto");

      const seqs: bigint[] = [];
      for await (const m of probe.serverStream({ text: "s", count: 5, responseBytes: 1 })) seqs.push(m.sequence);
      assert.deepEqual(seqs, [1n, 2n, 3n, 4n, 5n]);
      // Five messages and a trailer, each one padded base64 piece: the whole
      // body is not one base64 entity (padding falls in the middle).
      const body = wire.chunks.join("");
      assert.match(body.slice(0, -4), /=/);
    });

    test(`HTTP/${httpVersion}: a stream that never ends reaches the client message by message`, async () => {
      const probe = client(ProbeService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion }));
      const abort = new AbortController();
      const seen: bigint[] = [];
      // count 0: the probe streams until cancelled; nothing would arrive if
      // the response were encoded (or flushed) only at its end.
      for await (const m of probe.serverStream({ count: 0, sleepMs: 20 }, { signal: abort.signal })) {
        seen.push(m.sequence);
        if (seen.length === 3) break;
      }
      abort.abort();
      assert.deepEqual(seen, [1n, 2n, 3n]);
    });

    test(`HTTP/${httpVersion}: errors with details, deadlines and the message size limit`, async () => {
      const probe = client(ProbeService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion }));
      const err = await probe.unary({ fail: { code: Code.FailedPrecondition, message: "nope ünïcode", withDetail: true, metadata: { "x-why": "because" } } }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.FailedPrecondition);
      assert.equal(err.rawMessage, "nope ünïcode");
      assert.equal(err.metadata.get("x-why"), "because");
      assert.deepEqual(err.findDetails(ProbeDetailSchema).map((d) => [d.reason, d.at]), [["asked for", 42n]]);

      const late = await probe.unary({ sleepMs: 5_000 }, { timeoutMs: 100 }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.equal(late?.code, Code.DeadlineExceeded);

      const big = await probe.unary({ payload: new Uint8Array(4096) }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.equal(big?.code, Code.ResourceExhausted);
    });
  }

  test("HTTP/2: client streaming and bidi work in text mode too", async () => {
    const probe = client(ProbeService, createGrpcWebTextTransport({ baseUrl: gw.url, httpVersion: "2" }));
    const summary = await probe.clientStream(from([{ text: "a", payload: new Uint8Array(1) }, { text: "bb", payload: new Uint8Array(2) }, { text: "ccc" }]));
    assert.deepEqual([summary.count, summary.bytes, summary.texts], [3n, 3n, ["a", "bb", "ccc"]]);
    const echoes: string[] = [];
    for await (const m of probe.bidi(from([{ text: "x" }, { text: "y" }]))) echoes.push(`${m.text}${m.sequence}`);
    assert.deepEqual(echoes, ["x1", "y2"]);
  });

  for (const [name, send] of [["HTTP/1.1", h1Request], ["HTTP/2", h2Request]] as const) {
    test(`${name} raw: text content type, base64 body, CORS exposure`, async () => {
      const res: RawResponse = await send(gw.port, {
        path: "/probe.v1.ProbeService/ServerStream",
        headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1", origin },
        body: probeBody({ text: "t", count: 2 }).toString("base64"),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-type"], "application/grpc-web-text+proto");
      const frames = parseEnvelopes(decodeText(res.body));
      assert.deepEqual(frames.map((f) => f.flags), [0, 0, 0x80]);
      assert.deepEqual(frames.slice(0, 2).map((f) => fromBinary(ProbeResponseSchema, f.data).sequence), [1n, 2n]);
      assert.equal(trailerOf(decodeText(res.body))["grpc-status"], "0");
      const exposed = String(res.headers["access-control-expose-headers"]).toLowerCase();
      for (const h of ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]) assert.ok(exposed.includes(h), exposed);
      assert.equal(res.headers["access-control-allow-origin"], origin);
    });
  }

  test("a request sent as several padded pieces, split at odd bytes, decodes whole", async () => {
    // The envelope header and the message, each encoded on its own: padding
    // in the middle of the body; then written in 3-byte slices.
    const message = toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "pieces", responseBytes: 1 }));
    const head = envelope(message).subarray(0, 5);
    const text = Buffer.from(head.toString("base64") + Buffer.from(message).toString("base64"), "latin1");
    assert.match(text.toString("latin1"), /=.+/);
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: gw.port, method: "POST", path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/grpc-web-text+proto" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
      });
      req.on("error", reject);
      for (let i = 0; i < text.length; i += 3) req.write(text.subarray(i, i + 3));
      req.end();
    });
    const frames = parseEnvelopes(decodeText(body));
    assert.equal(fromBinary(ProbeResponseSchema, frames[0]!.data).text, "pieces");
    assert.equal(trailerOf(decodeText(body))["grpc-status"], "0");
  });

  test("a body that is not base64 gets INVALID_ARGUMENT in text, naming the problem", async () => {
    for (const [body, problem] of [["AAAA AAA=", /character 5 is not in the base64 alphabet/], ["AAAAAA", /ends inside a 4-character group \(2 characters left over\)/]] as const) {
      const res = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/grpc-web-text" }, body });
      assert.equal(res.status, 200);
      const t = trailerOf(decodeText(res.body));
      assert.equal(t["grpc-status"], String(Code.InvalidArgument));
      assert.match(decodeURIComponent(t["grpc-message"] ?? ""), /^SLUICE_GRPC_WEB_TEXT_BAD_BASE64: the request body is not valid base64/);
      assert.match(decodeURIComponent(t["grpc-message"] ?? ""), problem);
    }
    // The connection is still usable afterwards.
    const ok = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/grpc-web-text" }, body: probeBody({ text: "after" }).toString("base64") });
    assert.equal(trailerOf(decodeText(ok.body))["grpc-status"], "0");
  });

  test("early errors (an unknown method) reach a text client in text", async () => {
    const res = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Nope", headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text" }, body: probeBody({}).toString("base64") });
    assert.equal(res.headers["content-type"], "application/grpc-web-text+proto");
    assert.equal(trailerOf(decodeText(res.body))["grpc-status"], String(Code.Unimplemented));
  });

  test("Accept decides the response: a binary request may ask for text, a text request for binary", async () => {
    const binaryIn = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/grpc-web+proto", accept: "application/grpc-web-text" }, body: probeBody({ text: "b" }) });
    assert.equal(binaryIn.headers["content-type"], "application/grpc-web-text+proto");
    assert.equal(fromBinary(ProbeResponseSchema, parseEnvelopes(decodeText(binaryIn.body))[0]!.data).text, "b");
    const textIn = await h1Request(gw.port, { path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web+proto" }, body: probeBody({ text: "t" }).toString("base64") });
    assert.equal(textIn.headers["content-type"], "application/grpc-web+proto");
    assert.equal(fromBinary(ProbeResponseSchema, parseEnvelopes(textIn.body)[0]!.data).text, "t");
    // The handler sees the request as the client sent it.
    assert.equal(fromBinary(ProbeResponseSchema, parseEnvelopes(textIn.body)[0]!.data).headers["content-type"], "application/grpc-web-text");
  });
});
