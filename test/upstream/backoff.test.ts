import assert from "node:assert/strict";
import { test } from "node:test";
import { retryBackoffMs } from "../../src/upstream/backoff.js";

const policy = { initialBackoffMs: 100, maxBackoffMs: 1000, backoffMultiplier: 2 };

test("the ceiling grows by the multiplier up to the maximum", () => {
  const top = () => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryBackoffMs(n, policy, top)), [99, 199, 399, 799, 999, 999]);
});

test("full jitter: anywhere from 0 to the ceiling", () => {
  assert.equal(retryBackoffMs(3, policy, () => 0), 0);
  assert.equal(retryBackoffMs(3, policy, () => 0.5), 200);
  for (let i = 0; i < 1000; i++) {
    const ms = retryBackoffMs(2, policy);
    assert.ok(ms >= 0 && ms < 200);
  }
});

test("a multiplier of 1 keeps the backoff constant; zero initial backoff means no wait", () => {
  assert.equal(retryBackoffMs(5, { ...policy, backoffMultiplier: 1 }, () => 0.999), 99);
  assert.equal(retryBackoffMs(5, { ...policy, initialBackoffMs: 0 }, () => 0.999), 0);
});
