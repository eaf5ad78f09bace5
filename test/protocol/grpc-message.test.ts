import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeGrpcMessage } from "../../src/protocol/grpc-message.js";

test("printable ASCII stays as it is, except %", () => {
  assert.equal(encodeGrpcMessage("record 2: time is required (50%)"), "record 2: time is required (50%25)");
});

test("other bytes are percent-encoded as UTF-8", () => {
  assert.equal(encodeGrpcMessage("¡Hola\n"), "%C2%A1Hola%0A");
});

test("a message without anything to escape is returned as it is", () => {
  const m = "a/b: c, d";
  assert.equal(encodeGrpcMessage(m), m);
});

test("a space at either end is escaped (an HTTP/2 field value must not start or end with whitespace); inner spaces are not", () => {
  assert.equal(encodeGrpcMessage("invalid grpc timeout value: "), "invalid grpc timeout value:%20");
  assert.equal(encodeGrpcMessage(" leading"), "%20leading");
  assert.equal(encodeGrpcMessage(" "), "%20");
  assert.equal(encodeGrpcMessage("  two  "), "%20 two %20");
  assert.equal(encodeGrpcMessage(""), "");
  for (const m of ["invalid grpc timeout value: ", " leading", " ", "  two  ", "¡ x "]) assert.equal(decodeURIComponent(encodeGrpcMessage(m)), m);
});
