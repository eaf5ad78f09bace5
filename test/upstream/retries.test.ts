// The retry policy (gRPC A6) against a real grpc-js upstream that fails on
// request: what is retried and what is not, replayed request streams, the
// retry budget, and grpc-retry-pushback-ms.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeRequestSchema, ProbeService } from "../gen/probe/v1/probe_pb.js";
import { startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamConfigInput } from "../../src/upstream/upstream-config.js";
import type { UpstreamRegistry } from "../../src/upstream/upstream-registry.js";

let up: UpstreamProcess;
const registries: UpstreamRegistry[] = [];
before(async () => {
  up = await startUpstream();
});
after(async () => {
  for (const r of registries) await r.close(500);
  await up.kill();
});
function registry(config: UpstreamConfigInput = {}): UpstreamRegistry {
  const r = upstreamRegistry({ users: { url: up.url, ...config, retry: { initialBackoffMs: 1, maxBackoffMs: 2, ...config.retry } } });
  registries.push(r);
  return r;
}
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof ConnectError, `expected a ConnectError, got ${String(e)}`);
  return e;
}
let keys = 0;
/** A request key no other test uses (the upstream counts attempts per key). */
const key = (name: string) => `${name}-${++keys}`;
const attemptsOf = async (k: string) => (await up.stats()).attempts[k]?.length ?? 0;

describe("what is retried", () => {
  test("an UNAVAILABLE answer is retried, and the retry succeeds", async () => {
    const reg = registry();
    const k = `flaky:1:${key("u")}`;
    assert.equal((await reg.client(ProbeService, "users").unary({ text: k })).sequence, 2n);
    assert.equal(await attemptsOf(k), 2);
    assert.equal(reg.get("users").state().retries, 1);
  });

  test("no more than maxAttempts", async () => {
    const reg = registry({ retry: { maxAttempts: 3 } });
    const k = `flaky:5:${key("m")}`;
    const e = await failure(reg.client(ProbeService, "users").unary({ text: k }));
    assert.equal(e.code, Code.Unavailable);
    assert.equal(e.rawMessage, "flaky attempt 3");
    assert.equal(await attemptsOf(k), 3);
  });

  test("maxAttempts 1: no retries", async () => {
    const reg = registry({ retry: { maxAttempts: 1 } });
    const k = `flaky:1:${key("one")}`;
    assert.equal((await failure(reg.client(ProbeService, "users").unary({ text: k }))).code, Code.Unavailable);
    assert.equal(await attemptsOf(k), 1);
  });

  test("a code that is not in retryableCodes is not retried", async () => {
    const reg = registry({ retry: { maxAttempts: 3 } });
    const k = key("nf");
    const e = await failure(reg.client(ProbeService, "users").unary({ text: k, fail: { code: Code.NotFound, message: "gone" } }));
    assert.equal(e.code, Code.NotFound);
    assert.equal(await attemptsOf(k), 1);
  });

  test("other codes when listed", async () => {
    const reg = registry({ retry: { maxAttempts: 2, retryableCodes: ["resource_exhausted"] } });
    const k = key("re");
    await failure(reg.client(ProbeService, "users").unary({ text: k, fail: { code: Code.ResourceExhausted, message: "busy" } }));
    assert.equal(await attemptsOf(k), 2);
  });

  test("a stream that has received a message is not retried", async () => {
    const reg = registry({ retry: { maxAttempts: 3 } });
    const k = key("msg");
    const got: bigint[] = [];
    const e = await failure((async () => {
      for await (const m of reg.client(ProbeService, "users").serverStream({ text: k, count: 2, fail: { code: Code.Unavailable, message: "after two" } })) got.push(m.sequence);
    })());
    assert.equal(e.code, Code.Unavailable);
    assert.deepEqual(got, [1n, 2n]);
    assert.equal(await attemptsOf(k), 1);
  });

  test("a request stream is replayed to the retry, whole", async () => {
    const reg = registry();
    const k = `flaky:1:${key("cs")}`;
    async function* requests() {
      for (const text of [k, "two", "three"]) yield create(ProbeRequestSchema, { text, payload: new Uint8Array(1000) });
    }
    const summary = await reg.client(ProbeService, "users").clientStream(requests());
    assert.deepEqual(summary.texts, [k, "two", "three"]);
    assert.equal(summary.bytes, 3000n);
    assert.equal(await attemptsOf(k), 2);
  });

  test("a request stream larger than maxReplayBytes is not retried", async () => {
    const reg = registry({ retry: { maxReplayBytes: 100 } });
    const k = `flaky:1:${key("big")}`;
    async function* requests() {
      for (const text of [k, "two"]) yield create(ProbeRequestSchema, { text, payload: new Uint8Array(1000) });
    }
    assert.equal((await failure(reg.client(ProbeService, "users").clientStream(requests()))).code, Code.Unavailable);
    assert.equal(await attemptsOf(k), 1);
  });
});

describe("the retry budget", () => {
  test("retries cannot multiply the load of an upstream that fails everything", async () => {
    // (No ejection here: every call must reach the upstream.)
    const reg = registry({ retry: { maxAttempts: 5, budgetPercent: 10, budgetMinPerSecond: 0 }, outlier: { consecutiveFailures: 1000 } });
    const client = reg.client(ProbeService, "users");
    const k = key("budget");
    for (let i = 0; i < 20; i++) await failure(client.unary({ text: k, fail: { code: Code.Unavailable, message: "down" } }));
    // Without the budget: 100 attempts. With it: at most 10% of 20 calls retried.
    const attempts = await attemptsOf(k);
    assert.ok(attempts >= 20 && attempts <= 22, `${attempts} attempts`);
    const state = reg.get("users").state();
    assert.equal(state.retries, attempts - 20);
    assert.ok(state.retriesThrottled >= 18);
  });
});

describe("grpc-retry-pushback-ms", () => {
  test("a pushback that is not a non-negative integer means: do not retry", async () => {
    const reg = registry({ retry: { maxAttempts: 3 } });
    const k = `flaky:2:${key("stop")}`;
    const e = await failure(reg.client(ProbeService, "users").unary({ text: k, fail: { code: 0, metadata: { "grpc-retry-pushback-ms": "-1" } } }));
    assert.equal(e.code, Code.Unavailable);
    assert.equal(await attemptsOf(k), 1);
  });

  test("a pushback delay replaces the backoff", async () => {
    const reg = registry({ retry: { maxAttempts: 2 } });
    const k = `flaky:1:${key("wait")}`;
    await reg.client(ProbeService, "users").unary({ text: k, fail: { code: 0, metadata: { "grpc-retry-pushback-ms": "400" } } });
    const times = (await up.stats()).attempts[k]!;
    assert.equal(times.length, 2);
    // A lower bound only: a slow machine can make the gap longer, never shorter.
    assert.ok(times[1]! - times[0]! >= 400, `retried after ${times[1]! - times[0]!} ms; the backoff alone is at most 2 ms`);
  });

  test("a pushback beyond the deadline: no retry", async () => {
    const reg = registry({ retry: { maxAttempts: 2 } });
    const k = `flaky:1:${key("late")}`;
    const e = await failure(reg.client(ProbeService, "users").unary({ text: k, fail: { code: 0, metadata: { "grpc-retry-pushback-ms": "60000" } } }, { timeoutMs: 5_000 }));
    assert.equal(e.code, Code.Unavailable);
    assert.equal(await attemptsOf(k), 1);
  });
});
