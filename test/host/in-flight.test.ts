import assert from "node:assert/strict";
import { test } from "node:test";
import { InFlight } from "../../src/host/in-flight.js";

test("idle() resolves true once the last call ends", async () => {
  const f = new InFlight();
  f.begin();
  f.begin();
  const idle = f.idle(60_000);
  f.end();
  f.end();
  assert.equal(await idle, true);
  assert.equal(f.count, 0);
});

test("idle() resolves false when calls outlast the wait", async () => {
  const f = new InFlight();
  f.begin();
  assert.equal(await f.idle(10), false);
  f.end();
  assert.equal(await f.idle(10), true);
});
