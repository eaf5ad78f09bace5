import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { InFlight, type Abortable } from "../../src/host/in-flight.js";

const call = (): Abortable & { aborted?: ConnectError } => {
  const c: Abortable & { aborted?: ConnectError } = { abort: (e) => (c.aborted = e) };
  return c;
};

test("idle() resolves true once the last call ends", async () => {
  const f = new InFlight();
  const a = call();
  const b = call();
  f.begin(a);
  f.begin(b);
  const idle = f.idle(60_000);
  f.end(a);
  f.end(b);
  assert.equal(await idle, true);
  assert.equal(f.count, 0);
});

test("idle() resolves false when calls outlast the wait", async () => {
  const f = new InFlight();
  const a = call();
  f.begin(a);
  assert.equal(await f.idle(10), false);
  f.end(a);
  assert.equal(await f.idle(10), true);
});

test("abortAll() hands every call in flight the error", () => {
  const f = new InFlight();
  const a = call();
  const b = call();
  f.begin(a);
  f.begin(b);
  const error = new ConnectError("bye", Code.Unavailable);
  f.abortAll(error);
  assert.equal(a.aborted, error);
  assert.equal(b.aborted, error);
});

test("ending a call twice does not wake waiters early", async () => {
  const f = new InFlight();
  const a = call();
  const b = call();
  f.begin(a);
  f.begin(b);
  f.end(a);
  f.end(a);
  assert.equal(await f.idle(10), false);
});
