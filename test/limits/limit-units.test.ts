// The pure parts of the limits: token buckets, the concurrency gate and its
// queue, how a route's limits are resolved from their layers, and the
// header checks.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConcurrencyGate, type GateWaiter } from "../../src/limits/concurrency-gate.js";
import { headersTooLarge } from "../../src/limits/header-checks.js";
import { configLayers, defaultStreamPolicy, resolveRoutePolicy } from "../../src/limits/route-policy.js";
import { TokenBucket } from "../../src/limits/token-bucket.js";

describe("TokenBucket", () => {
  test("a burst, then one token per 1/perSecond", () => {
    const b = new TokenBucket(2, 3, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0]);
    assert.equal(b.take(0), 500, "the next token comes in 500 ms");
    assert.equal(b.take(250), 250);
    assert.equal(b.take(500), 0);
    assert.equal(b.available(10_000), 3, "never more than the burst");
  });
  test("fractional rates", () => {
    const b = new TokenBucket(0.5, 1, 0);
    assert.equal(b.take(0), 0);
    assert.equal(b.take(0), 2000);
  });
});

describe("ConcurrencyGate", () => {
  const expired = (reason: "timeout" | "closed") => new ConnectError(reason, Code.ResourceExhausted);
  const waiter = () => {
    const w: GateWaiter & { got?: string } = {
      admitted: () => (w.got = "admitted"),
      refused: (e) => (w.got = `refused ${e.rawMessage}`),
    };
    return w;
  };

  test("slots, then a FIFO queue that hands a freed slot straight to its head", () => {
    const g = new ConcurrencyGate(2, 2, 60_000, expired);
    assert.ok(g.tryAcquire());
    assert.ok(g.tryAcquire());
    assert.equal(g.tryAcquire(), false);
    const [a, b, c] = [waiter(), waiter(), waiter()];
    assert.ok(g.enqueue(a));
    assert.ok(g.enqueue(b));
    assert.equal(g.enqueue(c), false, "the queue holds 2");
    g.release();
    assert.equal(a.got, "admitted");
    assert.equal(b.got, undefined);
    assert.equal(g.active, 2, "the slot passed to the waiter");
    g.release();
    g.release();
    g.release();
    assert.equal(b.got, "admitted");
    assert.equal(g.active, 0);
  });

  test("a withdrawn waiter is skipped; close() refuses the rest", () => {
    const g = new ConcurrencyGate(1, 3, 60_000, expired);
    g.tryAcquire();
    const [a, b] = [waiter(), waiter()];
    g.enqueue(a);
    g.enqueue(b);
    g.withdraw(a);
    assert.equal(g.waiting, 1);
    g.close();
    assert.equal(a.got, undefined);
    assert.equal(b.got, "refused closed");
  });

  test("waiters past timeoutMs are refused, in order", async () => {
    const g = new ConcurrencyGate(1, 5, 30, expired);
    g.tryAcquire();
    const ws = [waiter(), waiter()];
    for (const w of ws) g.enqueue(w);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(ws.map((w) => w.got), ["refused timeout", "refused timeout"]);
    assert.equal(g.waiting, 0);
  });
});

describe("resolveRoutePolicy: lowest precedence first, in and out apart, rate whole", () => {
  const base = { readMaxBytes: 4 << 20, writeMaxBytes: 4 << 20 };

  test("a route that sets nothing costs nothing: no admission, the shared default stream policy", () => {
    const p = resolveRoutePolicy("a.S/M", [undefined, {}, undefined], base);
    assert.equal(p.admission, undefined);
    assert.equal(p.stream, defaultStreamPolicy);
    assert.equal(p.readMaxBytes, base.readMaxBytes);
  });

  test("config \"*\" < function file < its methods entry < config service < config method", () => {
    const limits = { "*": { maxConcurrent: 100, idleTimeoutMs: 1 }, "a.S": { maxConcurrent: 20 }, "a.S/M": { queue: 5 } };
    const [star, service, method] = configLayers(limits, "a.S", "M");
    const p = resolveRoutePolicy("a.S/M", [star, { maxConcurrent: 10, idleTimeoutMs: 2 }, { idleTimeoutMs: 3 }, service, method], base);
    assert.equal(p.admission?.maxConcurrent, 20, "the config's service entry wins over the function file");
    assert.equal(p.admission?.queue, 5);
    assert.equal(p.stream.idleTimeoutMs, 3, "the function's own method entry wins over its file and over \"*\"");
    const other = resolveRoutePolicy("a.T/N", [limits["*"], { maxConcurrent: 7 }, ...configLayers(limits, "a.T", "N").slice(1)], base);
    assert.equal(other.admission?.maxConcurrent, 7, "\"*\" is only the default under a function's own value");
  });

  test("in and out are resolved apart; a number sets both", () => {
    const p = resolveRoutePolicy("a.S/M", [{ maxMessageBytes: 1000, messagesPerSecond: { in: 5 } }, { maxMessageBytes: { out: 2000 }, messagesPerSecond: 9 }, { messagesPerSecond: { out: 3 } }], base);
    assert.equal(p.readMaxBytes, 1000);
    assert.equal(p.writeMaxBytes, 2000);
    assert.equal(p.stream.messagesPerSecondIn, 9);
    assert.equal(p.stream.messagesPerSecondOut, 3);
    assert.equal(p.stream.governed, true);
  });

  test("rate comes whole from the last layer that has one, with defaults", () => {
    const p = resolveRoutePolicy("a.S/M", [{ rate: { perSecond: 10, key: { header: "x-api-key" } } }, { rate: { perSecond: 2.5 } }], base);
    assert.deepEqual(p.admission?.rate, { perSecond: 2.5, burst: 3, key: "address", maxKeys: 10_000 });
  });
});

describe("headersTooLarge", () => {
  test("counts each field as name + value + 32 bytes", () => {
    assert.equal(headersTooLarge([":path", "/x"], 39), false);
    assert.equal(headersTooLarge([":path", "/x"], 38), true);
  });
});
