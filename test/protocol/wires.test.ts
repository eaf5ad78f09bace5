// How each protocol ends a response: gRPC trailers, the gRPC-Web trailer
// frame, Connect's end-of-stream message and unary error; and the timeout
// headers and compression negotiation every call starts with.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectStreamWire, connectUnaryError } from "../../src/protocol/connect/connect-wire.js";
import { compressions, negotiateCompression } from "../../src/protocol/compression.js";
import { parseContentType } from "../../src/protocol/content-type.js";
import { grpcTrailersOnly, grpcWire } from "../../src/protocol/grpc/grpc-wire.js";
import { grpcWebWire } from "../../src/protocol/grpc-web/grpc-web-wire.js";
import { formatGrpcTimeout, parseConnectTimeout, parseGrpcTimeout } from "../../src/protocol/timeout.js";
import { StatusSchema } from "../gen/encoding/v1/status_pb.js";
import { ProbeDetailSchema } from "../gen/probe/v1/probe_pb.js";

function errorWithDetail(): ConnectError {
  const e = new ConnectError("nope: 100% / ü", Code.FailedPrecondition, { "x-why": "because" }, [{ desc: ProbeDetailSchema, value: { reason: "r", at: 7n } }]);
  return e;
}

function trailerFrameText(last: Uint8Array | undefined): string {
  assert.ok(last);
  assert.equal(last[0], 0x80);
  assert.equal(Buffer.from(last).readUInt32BE(1), last.byteLength - 5);
  return Buffer.from(last.subarray(5)).toString("utf8");
}

test("gRPC: OK is grpc-status 0 in trailers, with the handler's trailers", () => {
  const trailer = new Headers({ "x-done": "yes" });
  assert.deepEqual(grpcWire.end(undefined, trailer, true).trailers, { "x-done": "yes", "grpc-status": "0" });
});

test("gRPC: an error is status, spec-encoded message and a google.rpc.Status with the details; metadata cannot fake the status", () => {
  const e = errorWithDetail();
  e.metadata.set("grpc-status", "0");
  const t = grpcWire.end(e, undefined, true).trailers!;
  assert.equal(t["grpc-status"], String(Code.FailedPrecondition));
  assert.equal(t["grpc-message"], "nope: 100%25 / %C3%BC");
  assert.equal(t["x-why"], "because");
  const status = fromBinary(StatusSchema, base64Decode(String(t["grpc-status-details-bin"])));
  assert.equal(status.code, Code.FailedPrecondition);
  assert.equal(status.message, "nope: 100% / ü");
  assert.equal(status.details[0]?.typeUrl, "type.googleapis.com/probe.v1.ProbeDetail");
});

test("gRPC Trailers-Only: the status in the head", () => {
  const h = grpcTrailersOnly(new ConnectError("gone", Code.Unimplemented), { "x-request-id": "r1" });
  assert.deepEqual(h, { "x-request-id": "r1", "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "gone" });
});

test("gRPC-Web: the trailers travel in a 0x80 frame of lower-case lines", () => {
  assert.equal(trailerFrameText(grpcWebWire.end(undefined, undefined, true).last), "grpc-status: 0\r\n");
  const text = trailerFrameText(grpcWebWire.end(errorWithDetail(), new Headers({ "X-Trailer": "t" }), true).last);
  assert.match(text, /^x-trailer: t\r\nx-why: because\r\ngrpc-status: 9\r\ngrpc-message: nope: 100%25 \/ %C3%BC\r\ngrpc-status-details-bin: \S+\r\n$/);
});

test("Connect streaming: an end-of-stream message with the error and the trailers", () => {
  const ok = connectStreamWire.end(undefined, undefined, true).last!;
  assert.equal(ok[0], 0x02);
  assert.equal(Buffer.from(ok.subarray(5)).toString(), "{}");
  const end = connectStreamWire.end(errorWithDetail(), new Headers({ "x-t": "1" }), true).last!;
  const json = JSON.parse(Buffer.from(end.subarray(5)).toString());
  assert.equal(json.error.code, "failed_precondition");
  assert.equal(json.error.message, "nope: 100% / ü");
  assert.equal(json.error.details[0].type, "probe.v1.ProbeDetail");
  assert.deepEqual(json.error.details[0].debug, { reason: "r", at: "7" });
  assert.deepEqual(json.metadata, { "x-t": ["1"], "x-why": ["because"] });
});

test("Connect unary: the HTTP status for the code, JSON body, trailers as trailer- headers", () => {
  const out = {};
  const { status, body } = connectUnaryError(errorWithDetail(), out, new Headers({ "x-h": "1" }), new Headers({ "x-t": "2" }));
  assert.equal(status, 400);
  assert.deepEqual(out, { "x-h": "1", "x-why": "because", "trailer-x-t": "2", "content-type": "application/json", "content-length": body.byteLength });
  assert.equal(JSON.parse(body.toString()).code, "failed_precondition");
  for (const [code, http] of [[Code.Canceled, 499], [Code.Unauthenticated, 401], [Code.Unavailable, 503], [Code.DataLoss, 500], [Code.ResourceExhausted, 429]] as const) {
    assert.equal(connectUnaryError(new ConnectError("x", code), {}, undefined, undefined).status, http);
  }
});

test("timeouts: gRPC units and Connect milliseconds; malformed values are INVALID_ARGUMENT", () => {
  assert.equal(parseGrpcTimeout("250m").ms, 250);
  assert.equal(parseGrpcTimeout("2S").ms, 2000);
  assert.equal(parseGrpcTimeout("1H").ms, 3_600_000);
  assert.equal(parseGrpcTimeout("500u").ms, 0.5);
  assert.equal(parseGrpcTimeout(undefined).ms, undefined);
  for (const bad of ["soon", "123456789m", "-1m", "1x", "m"]) assert.equal(parseGrpcTimeout(bad).error?.code, Code.InvalidArgument, bad);
  assert.equal(parseConnectTimeout("1500").ms, 1500);
  for (const bad of ["-5", "1.5", "12345678901", ""]) assert.equal(parseConnectTimeout(bad).error?.code, Code.InvalidArgument, bad);
  assert.equal(formatGrpcTimeout(1500), "1500m");
  assert.equal(formatGrpcTimeout(200_000_000), "200000S");
});

test("compression: the request's encoding must be served; the response follows Accept or the request", () => {
  const both = [compressions.gzip, compressions.br];
  assert.deepEqual(negotiateCompression(both, undefined, undefined, "grpc-accept-encoding"), { request: null, response: null });
  assert.deepEqual(negotiateCompression(both, "gzip", undefined, "grpc-accept-encoding"), { request: compressions.gzip, response: compressions.gzip });
  assert.deepEqual(negotiateCompression(both, "identity", "br, gzip", "grpc-accept-encoding"), { request: null, response: compressions.br });
  assert.deepEqual(negotiateCompression(both, undefined, "zstd, gzip", "grpc-accept-encoding"), { request: null, response: compressions.gzip });
  // Weights (RFC 9110): the highest wins, the client's order breaks ties, q=0 excludes, a bad weight counts as 1.
  assert.equal(negotiateCompression(both, undefined, "gzip;q=0.5, br", "accept-encoding").response, compressions.br);
  assert.equal(negotiateCompression(both, undefined, "br;q=0, gzip;q=0.1", "accept-encoding").response, compressions.gzip);
  assert.equal(negotiateCompression(both, undefined, "br;q=0, gzip;q=0", "accept-encoding").response, null);
  assert.equal(negotiateCompression(both, undefined, "gzip;q=x, br;q=0.9", "accept-encoding").response, compressions.gzip);
  assert.equal(negotiateCompression(both, undefined, "Br", "accept-encoding").response, compressions.br);
  const unknown = negotiateCompression([compressions.gzip], "snappy", undefined, "grpc-accept-encoding");
  assert.equal(unknown.error?.code, Code.Unimplemented);
  assert.equal(unknown.error?.metadata.get("grpc-accept-encoding"), "gzip");
});

test("decompression stops at the limit instead of inflating a bomb", async () => {
  const bomb = await compressions.gzip.compress(new Uint8Array(10 * 1024 * 1024));
  await assert.rejects(compressions.gzip.decompress(bomb, 1024), (e: ConnectError) => e.code === Code.ResourceExhausted);
  const small = await compressions.br.compress(Buffer.from("hi"));
  assert.equal(Buffer.from(await compressions.br.decompress(small, 1024)).toString(), "hi");
  await assert.rejects(compressions.gzip.decompress(Buffer.from("not gzip"), 1024), (e: ConnectError) => e.code === Code.InvalidArgument);
});

test("content types: each protocol, codec and framing", () => {
  assert.deepEqual(parseContentType("application/grpc"), { protocol: "grpc", binary: true, stream: true, text: false });
  assert.deepEqual(parseContentType("application/grpc+json"), { protocol: "grpc", binary: false, stream: true, text: false });
  assert.deepEqual(parseContentType("application/grpc-web-text+proto"), { protocol: "grpc-web", binary: true, stream: true, text: true });
  assert.deepEqual(parseContentType("application/JSON; charset=utf-8"), { protocol: "connect", binary: false, stream: false, text: false });
  assert.deepEqual(parseContentType("application/connect+proto"), { protocol: "connect", binary: true, stream: true, text: false });
  for (const bad of [undefined, "text/plain", "application/grpc+xml", "application/protobuf"]) assert.equal(parseContentType(bad), undefined);
});
