// Browsers on other origins get through only when allowed, and can read the
// status and metadata of every protocol; RPCs compress per message with the
// protocols' own negotiation, and HTTP compression never wraps an RPC.
import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { after, describe, test } from "node:test";
import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { ProbeRequestSchema, ProbeResponseSchema } from "../gen/probe/v1/probe_pb.js";
import { startGateway } from "../support/gateway.js";
import { envelope, h1Request, h2Request, parseEnvelopes } from "../support/raw-http.js";
import { TempFunctions } from "../support/temp-functions.js";

const unary = "/probe.v1.ProbeService/Unary";
const probe = (init: Parameters<typeof create<typeof ProbeRequestSchema>>[1]) => toBinary(ProbeRequestSchema, create(ProbeRequestSchema, init));
const app = "https://app.example";

describe("CORS", async () => {
  const closed = await startGateway();
  const open = await startGateway({ args: ["--set", `cors.origins=${app}`] });
  after(async () => {
    await closed.stop();
    await open.stop();
  });
  const preflight = (port: number) => h1Request(port, {
    method: "OPTIONS",
    path: unary,
    headers: { origin: app, "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-grpc-web,x-user-agent,grpc-timeout" },
  });

  test("no cors.origins: no cross-origin access at all", async () => {
    const pre = await preflight(closed.port);
    assert.equal(pre.headers["access-control-allow-origin"], undefined);
    const res = await h1Request(closed.port, { path: unary, headers: { origin: app, "content-type": "application/grpc-web+proto" }, body: envelope(probe({})) });
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });

  test("preflight allows the protocols' methods and headers", async () => {
    const pre = await preflight(open.port);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], app);
    assert.match(String(pre.headers["access-control-allow-methods"]), /POST/);
    assert.match(String(pre.headers["access-control-allow-methods"]), /GET/);
    for (const h of ["content-type", "connect-protocol-version", "x-grpc-web", "grpc-timeout"]) {
      assert.match(String(pre.headers["access-control-allow-headers"]).toLowerCase(), new RegExp(h));
    }
    assert.equal(pre.headers["access-control-max-age"], "7200");
  });

  test("a gRPC-Web response exposes grpc-status, grpc-message and the handler's own headers", async () => {
    const res = await h1Request(open.port, { path: unary, headers: { origin: app, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: envelope(probe({ text: "x" })) });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], app);
    const exposed = String(res.headers["access-control-expose-headers"]).toLowerCase().split(/,\s*/);
    for (const h of ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-probe-version", "x-request-id"]) assert.ok(exposed.includes(h), `${h} exposed: ${exposed}`);
  });

  test("another origin is not let in", async () => {
    const res = await h1Request(open.port, { path: unary, headers: { origin: "https://evil.example", "content-type": "application/grpc-web+proto" }, body: envelope(probe({})) });
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });
});

describe("compression", async () => {
  const statics = new TempFunctions("static");
  statics.write("page.txt", "sluice ".repeat(1000));
  const gw = await startGateway({ args: ["--set", `staticDir=${statics.dir}`] });
  after(async () => {
    await gw.stop();
    statics.cleanup();
  });

  test("Connect unary: gzip via Content-Encoding both ways; small responses stay identity", async () => {
    const big = await h1Request(gw.port, {
      path: unary,
      headers: { "content-type": "application/proto", "content-encoding": "gzip", "accept-encoding": "gzip" },
      body: gzipSync(probe({ text: "zipped", responseBytes: 4000 })),
    });
    assert.equal(big.status, 200);
    assert.equal(big.headers["content-encoding"], "gzip");
    const msg = fromBinary(ProbeResponseSchema, gunzipSync(big.body));
    assert.equal(msg.text, "zipped");
    assert.equal(msg.payload.byteLength, 4000);
    const small = await h1Request(gw.port, { path: unary, headers: { "content-type": "application/proto", "accept-encoding": "gzip" }, body: probe({ text: "tiny" }) });
    assert.equal(small.headers["content-encoding"], undefined);
  });

  test("Connect unary: Accept-Encoding weights choose the encoding; q=0 refuses one", async () => {
    const ask = (accept: string) => h1Request(gw.port, { path: unary, headers: { "content-type": "application/proto", "accept-encoding": accept }, body: probe({ responseBytes: 4000 }) });
    // The client's order says gzip first, its weights say br.
    assert.equal((await ask("gzip;q=0.5, br;q=1.0")).headers["content-encoding"], "br");
    assert.equal((await ask("br;q=0, gzip")).headers["content-encoding"], "gzip");
    assert.equal((await ask("GZIP;q=0.8, identity")).headers["content-encoding"], "gzip");
    assert.equal((await ask("gzip;q=0, br;q=0")).headers["content-encoding"], undefined);
    const res = await ask("br;q=0.9, gzip;q=0.9");
    assert.equal(res.headers["content-encoding"], "br", "equal weights: the client's order");
    assert.equal(fromBinary(ProbeResponseSchema, brotliDecompressSync(res.body)).payload.byteLength, 4000);
  });

  test("gRPC: br per message, flagged in the envelope", async () => {
    const res = await h2Request(gw.port, {
      path: unary,
      headers: { "content-type": "application/grpc", "grpc-accept-encoding": "br" },
      body: envelope(probe({ responseBytes: 4000 })),
    });
    assert.equal(res.headers["grpc-encoding"], "br");
    const [frame] = parseEnvelopes(res.body);
    assert.equal(frame!.flags & 0x01, 1, "compressed flag set");
    assert.ok(frame!.data.length < 4000);
    assert.equal(res.trailers["grpc-status"], "0");
  });

  test("Connect streaming: HTTP Accept-Encoding does not wrap the body; connect-accept-encoding compresses messages", async () => {
    const res = await h1Request(gw.port, {
      path: "/probe.v1.ProbeService/ServerStream",
      headers: { "content-type": "application/connect+json", "accept-encoding": "gzip, br", "connect-accept-encoding": "gzip" },
      body: envelope(Buffer.from(JSON.stringify({ count: 2, responseBytes: 3000 }))),
    });
    assert.equal(res.headers["content-encoding"], undefined);
    assert.equal(res.headers["connect-content-encoding"], "gzip");
    const frames = parseEnvelopes(res.body);
    assert.equal(frames.length, 3);
    const first = fromJson(ProbeResponseSchema, JSON.parse(gunzipSync(frames[0]!.data).toString()));
    assert.equal(first.payload.byteLength, 3000);
    assert.equal(frames[2]!.flags & 0x02, 0x02, "end-of-stream message last");
  });

  test("plain HTTP responses (static files) get HTTP compression", async () => {
    const res = await h1Request(gw.port, { method: "GET", path: "/page.txt", headers: { "accept-encoding": "gzip" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(res.body).toString(), "sluice ".repeat(1000));
  });
});
