import assert from "node:assert/strict";
import { test } from "node:test";
import { checkConflicts, type ServiceClaim } from "../../src/functions/check-conflicts.js";

const claim = (file: string, service: string, methods: string[], split = false): ServiceClaim => ({
  displayPath: file, split, service: { typeName: service }, methods: methods.map((name) => ({ name })),
});

test("different services never conflict", () => {
  assert.deepEqual(checkConflicts([claim("a.ts", "x.A", ["M"]), claim("b.ts", "x.B", ["M"])], new Map()).errors, []);
});

test("a split service with disjoint methods is fine", () => {
  assert.deepEqual(checkConflicts([claim("a.ts", "x.A", ["M"], true), claim("b.ts", "x.A", ["N"], true)], new Map()).errors, []);
});

test("one file without split: true is a conflict naming every file", () => {
  const r = checkConflicts([claim("a.ts", "x.A", ["M"], true), claim("b.ts", "x.A", ["N"])], new Map());
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.code, "SLUICE_FUNCTION_SPLIT_NOT_DECLARED");
  assert.deepEqual([...r.files].sort(), ["a.ts", "b.ts"]);
});

test("the same method twice is a conflict even when split", () => {
  const r = checkConflicts([claim("a.ts", "x.A", ["M", "N"], true), claim("b.ts", "x.A", ["N"], true)], new Map());
  assert.equal(r.errors[0]!.code, "SLUICE_FUNCTION_DUPLICATE_METHOD");
  assert.match(r.errors[0]!.message, /x\.A\.N is implemented by both a\.ts and b\.ts/);
});

test("reserved services cannot be claimed", () => {
  const r = checkConflicts([claim("h.ts", "grpc.health.v1.Health", ["Check"], true)], new Map([["grpc.health.v1.Health", "built-in"]]));
  assert.equal(r.errors[0]!.code, "SLUICE_FUNCTION_DUPLICATE_METHOD");
});

test("a service the config routes to an upstream cannot also be a function", () => {
  const r = checkConflicts([claim("n.ts", "notes.v1.Notes", ["Get"])], new Map([["notes.v1.Notes", "proxy"]]));
  assert.match(r.errors[0]!.message, /^SLUICE_PROXY_CONFLICT: n\.ts: implements notes\.v1\.Notes, which the config routes to an upstream/);
  assert.deepEqual([...r.files], ["n.ts"]);
});
