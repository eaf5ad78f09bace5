import assert from "node:assert/strict";
import { test } from "node:test";
import { RetryBudget } from "../../src/upstream/retry-budget.js";

const clock = () => {
  let t = 5_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};

test("retries are a percentage of the calls in the window", () => {
  const c = clock();
  const b = new RetryBudget(10, 0, c.now);
  let allowed = 0;
  for (let i = 0; i < 100; i++) {
    b.recordCall();
    if (b.tryRetry()) allowed++;
  }
  assert.equal(allowed, 10);
});

test("a budget of zero percent and no minimum allows no retry", () => {
  const b = new RetryBudget(0, 0, clock().now);
  for (let i = 0; i < 50; i++) b.recordCall();
  assert.equal(b.tryRetry(), false);
});

test("the per-second minimum allows retries on a quiet upstream, 10 s worth", () => {
  const b = new RetryBudget(0, 2, clock().now);
  let allowed = 0;
  while (b.tryRetry()) allowed++;
  assert.equal(allowed, 20);
});

test("the window slides: calls and retries older than 10 s no longer count", () => {
  const c = clock();
  const b = new RetryBudget(50, 0, c.now);
  for (let i = 0; i < 10; i++) b.recordCall();
  let allowed = 0;
  while (b.tryRetry()) allowed++;
  assert.equal(allowed, 5);
  c.advance(5_000);
  assert.equal(b.tryRetry(), false, "still inside the window");
  c.advance(5_000);
  assert.equal(b.tryRetry(), false, "the calls left with the retries: nothing to take a share of");
  b.recordCall();
  b.recordCall();
  assert.equal(b.tryRetry(), true);
  c.advance(60_000);
  assert.equal(b.tryRetry(), false, "a long pause clears every bucket");
});
