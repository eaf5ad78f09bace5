import assert from "node:assert/strict";
import { test } from "node:test";
import { pickEndpoint } from "../../src/upstream/pick-endpoint.js";

const ep = (name: string, load: number, failures = 0) => ({ name, load: () => load, consecutiveFailures: () => failures });
/** A random source that returns the given values in turn. */
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};

test("of the two picked, the less loaded wins", () => {
  const a = ep("a", 5);
  const b = ep("b", 1);
  const c = ep("c", 3);
  // indices 0 and (0.99*2 → 1, shifted past 0 → 2): a vs c
  assert.equal(pickEndpoint([a, b, c], undefined, seq(0, 0.99))!.name, "c");
  // 1 (b) vs 0 (a)
  assert.equal(pickEndpoint([a, b, c], undefined, seq(0.4, 0))!.name, "b");
});

test("two distinct endpoints are always compared", () => {
  const a = ep("a", 0);
  const b = ep("b", 9);
  for (const r of [0, 0.3, 0.5, 0.7, 0.99]) {
    assert.equal(pickEndpoint([a, b], undefined, () => r)!.name, "a", `random ${r}`);
    assert.equal(pickEndpoint([b, a], undefined, () => r)!.name, "a", `random ${r}`);
  }
});

test("a tie goes to the endpoint with fewer failures in a row", () => {
  const a = ep("a", 2, 1);
  const b = ep("b", 2, 0);
  assert.equal(pickEndpoint([a, b], undefined, seq(0, 0))!.name, "b");
  assert.equal(pickEndpoint([b, a], undefined, seq(0, 0))!.name, "b");
});

test("endpoints to avoid are skipped unless nothing else is left", () => {
  const a = ep("a", 0);
  const b = ep("b", 10);
  assert.equal(pickEndpoint([a, b], new Set([a]))!.name, "b");
  assert.equal(pickEndpoint([a], new Set([a]))!.name, "a");
  assert.equal(pickEndpoint([], undefined), undefined);
});

test("over many picks, load spreads to the least loaded without herding", () => {
  const eps = [ep("a", 0), ep("b", 1), ep("c", 2), ep("d", 3)];
  const counts = new Map<string, number>();
  for (let i = 0; i < 4000; i++) {
    const p = pickEndpoint(eps)!.name;
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  // P2C never picks the most loaded of four (it always loses its comparison).
  assert.equal(counts.get("d"), undefined);
  assert.ok(counts.get("a")! > counts.get("b")! && counts.get("b")! > counts.get("c")!);
});
