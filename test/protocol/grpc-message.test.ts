import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeGrpcMessage, respecGrpcMessage } from "../../src/protocol/grpc-message.js";

test("printable ASCII stays as it is, except %", () => {
  assert.equal(encodeGrpcMessage("record 2: time is required (50%)"), "record 2: time is required (50%25)");
});

test("other bytes are percent-encoded as UTF-8", () => {
  assert.equal(encodeGrpcMessage("¡Hola\n"), "%C2%A1Hola%0A");
});

test("connect-es's encodeURIComponent form is turned into the spec's form", () => {
  assert.equal(respecGrpcMessage(encodeURIComponent("a/b: c, ü")), "a/b: c, %C3%BC");
});

test("a value that is not valid percent-encoding is passed through", () => {
  assert.equal(respecGrpcMessage("100%"), "100%");
});
