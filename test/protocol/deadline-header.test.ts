import assert from "node:assert/strict";
import { test } from "node:test";
import { applyDeadlinePolicy, defaultDeadlineMs } from "../../src/protocol/deadline-header.js";

const policy = { maxMs: 5000, defaultMs: 1000 };

test("gRPC: a deadline above the maximum is lowered", () => {
  const h = new Headers({ "grpc-timeout": "1M" });
  assert.equal(applyDeadlinePolicy(h, "grpc", policy), 5000);
  assert.equal(h.get("grpc-timeout"), "5000m");
});

test("gRPC-Web: a deadline within bounds is left exactly as sent", () => {
  const h = new Headers({ "grpc-timeout": "250000u" });
  assert.equal(applyDeadlinePolicy(h, "grpc-web", policy), 250);
  assert.equal(h.get("grpc-timeout"), "250000u");
});

test("Connect: a missing deadline stays missing; the default is the host's to enforce", () => {
  const h = new Headers();
  assert.equal(applyDeadlinePolicy(h, "connect", policy), undefined);
  assert.equal(h.get("connect-timeout-ms"), null);
  assert.equal(defaultDeadlineMs(policy), 1000);
});

test("the default never exceeds the maximum", () => {
  assert.equal(defaultDeadlineMs({ maxMs: 300, defaultMs: 1000 }), 300);
});

test("grpc-timeout switches to seconds past 8 digits of milliseconds", () => {
  const h = new Headers({ "grpc-timeout": "99999999S" });
  assert.equal(applyDeadlinePolicy(h, "grpc", { maxMs: 2_000_000_000, defaultMs: 1 }), 2_000_000_000);
  assert.equal(h.get("grpc-timeout"), "2000000S");
});

test("malformed values are left for the protocol handler to reject", () => {
  for (const [protocol, name, value] of [["grpc", "grpc-timeout", "soon"], ["grpc", "grpc-timeout", "123456789m"], ["connect", "connect-timeout-ms", "-1"]] as const) {
    const h = new Headers({ [name]: value });
    assert.equal(applyDeadlinePolicy(h, protocol, policy), undefined);
    assert.equal(h.get(name), value);
  }
});
