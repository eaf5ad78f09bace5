// The pool of connections to one endpoint: how many, counted from the
// upstream's own side; never past the upstream's
// SETTINGS_MAX_CONCURRENT_STREAMS; a bounded queue with a timeout; an LRU
// of pools whose evicted entries drain.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamConfigInput } from "../../src/upstream/upstream-config.js";
import type { UpstreamRegistry, UpstreamRegistryOptions } from "../../src/upstream/upstream-registry.js";

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});
async function upstream(opts: Parameters<typeof startUpstream>[0] = {}): Promise<UpstreamProcess> {
  const u = await startUpstream(opts);
  cleanups.push(() => u.kill());
  return u;
}
function registry(upstreams: Record<string, UpstreamConfigInput>, opts?: UpstreamRegistryOptions): UpstreamRegistry {
  const r = upstreamRegistry(upstreams, opts);
  cleanups.push(() => r.close(500));
  return r;
}
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof ConnectError, `expected a ConnectError, got ${String(e)}`);
  return e;
}
/** Starts a server stream and resolves once its first message arrived; `done` settles when it ends. */
async function openFeed(client: ReturnType<UpstreamRegistry["client"]>, text: string, count: number, sleepMs: number) {
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const got: bigint[] = [];
  const done = (async () => {
    for await (const m of (client as any).serverStream({ text, count, sleepMs })) {
      got.push(m.sequence);
      first();
    }
  })();
  done.catch(() => first());
  await started;
  return { got, done };
}

describe("connections per endpoint", () => {
  test("`connections` connections are kept, and calls spread over them", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, connections: 3 } });
    const client = reg.client(ProbeService, "users");
    for (let i = 0; i < 30; i++) await client.unary({ text: `c${i}` });
    const stats = await up.stats();
    assert.equal(stats.connections, 3, "counted by the upstream");
    assert.equal(reg.get("users").state().connections, 3);
    // Concurrent streams go to the connection with the fewest.
    const feeds = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => openFeed(client, `f${i}`, 0, 30)));
    const conns = reg.get("users").state().endpoints[0]!.connections;
    assert.deepEqual(conns.map((c) => c.activeStreams).sort(), [2, 2, 2]);
    void feeds;
  });

  test("past the upstream's SETTINGS_MAX_CONCURRENT_STREAMS, another connection is opened", async () => {
    const up = await upstream({ maxConcurrentStreams: 2 });
    const reg = registry({ users: { url: up.url } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 20_000 });
    const feeds = await Promise.all([0, 1, 2, 3, 4].map((i) => openFeed(client, `s${i}`, 30, 20)));
    const state = reg.get("users").state().endpoints[0]!;
    assert.equal(state.connections.length, 3);
    for (const c of state.connections) {
      assert.equal(c.maxConcurrentStreams, 2);
      assert.ok(c.activeStreams <= 2, `connection ${c.id} has ${c.activeStreams} streams`);
    }
    assert.equal((await up.stats()).connections, 3, "counted by the upstream");
    await Promise.all(feeds.map((f) => f.done));
    for (const f of feeds) assert.equal(f.got.length, 30);
  });
});

describe("keepalive and idle connections", () => {
  test("a connection with no call for idleTimeoutMs is closed; the next call opens another", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, idleTimeoutMs: 200 } });
    const client = reg.client(ProbeService, "users");
    await client.unary({ text: "one" });
    await eventually(async () => (await up.stats()).connections === 0, 10_000, "the idle connection to close");
    assert.equal(reg.get("users").state().connections, 0);
    await client.unary({ text: "two" });
    assert.equal((await up.stats()).totalConnections, 2);
  });

  test("GOAWAY too_many_pings: the PING interval is doubled, and the connection replaced", async () => {
    const up = await upstream({ impl: "connect", policePings: true });
    const reg = registry({ users: { url: up.url, pingIntervalMs: 100, retry: { maxAttempts: 1 } } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 20_000 });
    // A stream that outlives a PING interval, so that keepalive pings.
    await client.unary({ text: "slow", sleepMs: 400 }).catch(() => {});
    await eventually(() => reg.get("users").state().endpoints[0]!.pingIntervalMs === 200, 10_000, "the interval to double");
    assert.equal((await client.unary({ text: "after" })).text, "after");
  });
});

describe("the queue", () => {
  test("when every connection is full: calls wait, a bounded number, for a bounded time", async () => {
    const up = await upstream({ maxConcurrentStreams: 1 });
    const reg = registry({ users: { url: up.url, maxConnections: 1, maxQueued: 2, queueTimeoutMs: 300 } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 20_000 });
    const holder = await openFeed(client, "hold", 0, 50);
    const queued = [client.unary({ text: "q1" }), client.unary({ text: "q2" })];
    await eventually(() => reg.get("users").state().queued === 2, 5_000, "two queued calls");
    const full = await failure(client.unary({ text: "q3" }));
    assert.equal(full.code, Code.ResourceExhausted);
    assert.equal(full.rawMessage, `SLUICE_UPSTREAM_QUEUE_FULL: upstream users: 2 calls are already waiting for a stream to ${up.url} (maxQueued); the upstream is saturated`);
    for (const q of queued) {
      const e = await failure(q);
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_UPSTREAM_QUEUE_TIMEOUT: upstream users: no connection to .* could take the call within 300 ms \(queueTimeoutMs\)/);
    }
    assert.equal(reg.get("users").state().queued, 0);
    assert.equal((await up.stats()).totalConnections, 1, "never more connections than maxConnections");
    void holder;
  });

  test("a queued call whose deadline comes first fails with DEADLINE_EXCEEDED; one that gets a stream in time succeeds", async () => {
    const up = await upstream({ maxConcurrentStreams: 1 });
    const reg = registry({ users: { url: up.url, maxConnections: 1, queueTimeoutMs: 10_000 } });
    const client = reg.client(ProbeService, "users");
    const short = await openFeed(client, "short", 4, 50);
    const late = await failure(client.unary({ text: "late" }, { timeoutMs: 50 }));
    assert.equal(late.code, Code.DeadlineExceeded);
    const waits = await client.unary({ text: "waits" }, { timeoutMs: 20_000 });
    assert.equal(waits.text, "waits");
    await short.done;
    assert.equal(short.got.length, 4);
  });

  test("a cancelled call leaves the queue at once", async () => {
    const up = await upstream({ maxConcurrentStreams: 1 });
    const reg = registry({ users: { url: up.url, maxConnections: 1, queueTimeoutMs: 60_000 } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 60_000 });
    await openFeed(client, "hold", 0, 50);
    const ac = new AbortController();
    const queued = reg.client(ProbeService, "users", { signal: ac.signal }).unary({ text: "q" });
    await eventually(() => reg.get("users").state().queued === 1, 5_000, "a queued call");
    ac.abort(new ConnectError("the client went away", Code.Canceled));
    const e = await failure(queued);
    assert.equal(e.code, Code.Canceled);
    assert.equal(reg.get("users").state().queued, 0);
  });
});

describe("the pool cache", () => {
  test("an evicted pool drains: its call in flight finishes, then its connection closes", async () => {
    const a = await upstream();
    const b = await upstream();
    const reg = registry({ a: { url: a.url }, b: { url: b.url } }, { maxPools: 1 });
    const onA = reg.client(ProbeService, "a", { timeoutMs: 20_000 });
    const feed = await openFeed(onA, "long", 12, 40);
    // Using b pushes a's pool out of the cache (bound 1).
    assert.equal((await reg.client(ProbeService, "b").unary({ text: "b" })).text, "b");
    assert.equal(reg.poolCount(), 1);
    assert.deepEqual(reg.get("a").state().endpoints[0]!.connections, [], "a's pool left the cache");
    await feed.done;
    assert.equal(feed.got.length, 12, "the call in flight finished");
    await eventually(async () => (await a.stats()).connections === 0, 10_000, "a's connection to close");
    // a can be used again: a new pool, which pushes b's out.
    assert.equal((await onA.unary({ text: "again" })).text, "again");
    await eventually(async () => (await b.stats()).connections === 0, 10_000, "b's idle connection to close");
  });
});
