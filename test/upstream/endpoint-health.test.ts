import assert from "node:assert/strict";
import { test } from "node:test";
import { EndpointHealth } from "../../src/upstream/endpoint-health.js";

const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};
const policy = { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 5000 };

test("ejected after consecutiveFailures in a row; a success in between resets the count", () => {
  const c = clock();
  const h = new EndpointHealth(policy, c.now);
  assert.equal(h.recordFailure(), false);
  assert.equal(h.recordFailure(), false);
  h.recordSuccess();
  assert.equal(h.recordFailure(), false);
  assert.equal(h.recordFailure(), false);
  assert.equal(h.status(), "healthy");
  assert.equal(h.recordFailure(), true);
  assert.equal(h.status(), "ejected");
  assert.equal(h.available(), false);
  assert.equal(h.ejectedUntilMs(), 1_000_000 + 1000);
});

test("failures of calls still in flight while ejected do not extend the ejection", () => {
  const c = clock();
  const h = new EndpointHealth(policy, c.now);
  for (let i = 0; i < 3; i++) h.recordFailure();
  assert.equal(h.recordFailure(), false);
  assert.equal(h.ejectionCount(), 1);
});

test("after an ejection: probation; one failure ejects again for twice as long, up to the maximum", () => {
  const c = clock();
  const h = new EndpointHealth(policy, c.now);
  for (let i = 0; i < 3; i++) h.recordFailure();
  const lengths: number[] = [];
  for (let round = 0; round < 5; round++) {
    const until = h.ejectedUntilMs();
    lengths.push(until - c.now());
    c.advance(until - c.now());
    assert.equal(h.status(), "probing");
    assert.equal(h.available(), true);
    assert.equal(h.recordFailure(), true, "one failure on probation ejects");
  }
  assert.deepEqual(lengths, [1000, 2000, 4000, 5000, 5000]);
  assert.equal(h.totalEjections, 6);
});

test("a success on probation makes the endpoint healthy and forgets the ejections", () => {
  const c = clock();
  const h = new EndpointHealth(policy, c.now);
  for (let i = 0; i < 3; i++) h.recordFailure();
  c.advance(1000);
  h.recordSuccess();
  assert.equal(h.status(), "healthy");
  assert.equal(h.ejectionCount(), 0);
  assert.equal(h.recordFailure(), false, "back to needing three in a row");
});

test("a successful connect ends a streak of failures but keeps an endpoint on probation", () => {
  const c = clock();
  const h = new EndpointHealth(policy, c.now);
  h.recordFailure();
  h.recordFailure();
  h.recordConnectSuccess();
  assert.equal(h.consecutiveFailures(), 0);
  for (let i = 0; i < 3; i++) h.recordFailure();
  c.advance(1000);
  h.recordConnectSuccess();
  assert.equal(h.status(), "probing");
  assert.equal(h.recordFailure(), true);
});
