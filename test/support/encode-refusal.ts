import assert from "node:assert/strict";
import { EncodeError } from "../../src/protocol/encode-error.js";

/** The EncodeError an encoder refuses a value with; fails the test when it throws nothing, or something else. */
export function encodeRefusal(encode: () => unknown): EncodeError {
  try {
    encode();
  } catch (e) {
    assert.ok(e instanceof EncodeError, `expected an EncodeError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the value to be refused");
}
