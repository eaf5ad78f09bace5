import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { Code } from "@connectrpc/connect";
import { endStatus } from "../../src/upstream/response-start.js";

const frame = (flags: number, payload: Buffer) => {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
};
const none = Buffer.alloc(0);

test("gRPC: grpc-status in trailers, or in Trailers-Only headers, with the pushback", () => {
  assert.deepEqual(endStatus("grpc", 200, {}, { "grpc-status": "14", "grpc-retry-pushback-ms": "30" }, none), { code: Code.Unavailable, pushback: 30 });
  assert.deepEqual(endStatus("grpc", 200, { "grpc-status": "0" }, {}, none), { code: undefined, pushback: undefined });
  assert.deepEqual(endStatus("grpc", 200, { "grpc-status": "8", "grpc-retry-pushback-ms": "-1" }, {}, none), { code: Code.ResourceExhausted, pushback: "stop" });
});

test("gRPC: no grpc-status: the HTTP status as gRPC maps it", () => {
  assert.equal(endStatus("grpc", 503, {}, {}, none).code, Code.Unavailable);
  assert.equal(endStatus("grpc", 404, {}, {}, none).code, Code.Unimplemented);
  assert.equal(endStatus("grpc", 200, {}, {}, none).code, Code.Unknown);
});

test("gRPC-Web: the trailer frame in the body, plain or compressed", () => {
  const trailers = Buffer.from("grpc-status: 14\r\ngrpc-message: down\r\ngrpc-retry-pushback-ms: 5\r\n");
  assert.deepEqual(endStatus("grpc-web", 200, {}, {}, frame(0x80, trailers)), { code: Code.Unavailable, pushback: 5 });
  assert.deepEqual(endStatus("grpc-web", 200, { "grpc-encoding": "gzip" }, {}, frame(0x81, gzipSync(trailers))), { code: Code.Unavailable, pushback: 5 });
  assert.deepEqual(endStatus("grpc-web", 200, { "grpc-status": "3" }, {}, none), { code: Code.InvalidArgument, pushback: undefined });
});

test("Connect unary: the error body's code, else the HTTP status", () => {
  const json = Buffer.from(JSON.stringify({ code: "unavailable", message: "down" }));
  assert.deepEqual(endStatus("connect", 503, { "content-type": "application/json", "trailer-grpc-retry-pushback-ms": "7" }, {}, json), { code: Code.Unavailable, pushback: 7 });
  assert.equal(endStatus("connect", 429, { "content-type": "application/json" }, {}, Buffer.from("not json")).code, Code.Unavailable);
  assert.equal(endStatus("connect", 404, {}, {}, none).code, Code.Unimplemented);
});

test("Connect streaming: the end-stream message", () => {
  const ct = { "content-type": "application/connect+proto" };
  const end = (o: unknown) => frame(0x02, Buffer.from(JSON.stringify(o)));
  assert.deepEqual(endStatus("connect", 200, ct, {}, end({ error: { code: "unavailable" }, metadata: { "grpc-retry-pushback-ms": ["12"] } })), { code: Code.Unavailable, pushback: 12 });
  assert.deepEqual(endStatus("connect", 200, ct, {}, end({})), { code: undefined, pushback: undefined });
  assert.equal(endStatus("connect", 200, ct, {}, none).code, Code.Unknown);
  assert.equal(endStatus("connect", 200, { ...ct, "connect-content-encoding": "gzip" }, {}, frame(0x03, gzipSync(JSON.stringify({ error: { code: "aborted" } })))).code, Code.Aborted);
});
