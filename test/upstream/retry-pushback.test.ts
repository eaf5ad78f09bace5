import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRetryPushback } from "../../src/upstream/retry-pushback.js";

test("grpc-retry-pushback-ms: a delay, a refusal, or nothing", () => {
  assert.equal(parseRetryPushback(undefined), undefined);
  assert.equal(parseRetryPushback("250"), 250);
  assert.equal(parseRetryPushback(" 0 "), 0);
  assert.equal(parseRetryPushback(["40", "80"]), 40);
  // Anything but a non-negative integer means "do not retry" (gRPC A6).
  assert.equal(parseRetryPushback("-1"), "stop");
  assert.equal(parseRetryPushback("soon"), "stop");
  assert.equal(parseRetryPushback("1.5"), "stop");
  assert.equal(parseRetryPushback(""), "stop");
});
