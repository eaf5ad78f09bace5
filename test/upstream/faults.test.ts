// Faults of a real upstream process (@grpc/grpc-js, started and killed,
// frozen with SIGSTOP, or told to send GOAWAY by the test), and what the
// pool does about each. Timeouts in these configs are short so that every
// test ends quickly; assertions are on outcomes, never on durations.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamConfigInput } from "../../src/upstream/upstream-config.js";
import type { UpstreamRegistry } from "../../src/upstream/upstream-registry.js";

const fast: UpstreamConfigInput = {
  connectTimeoutMs: 500,
  pingIntervalMs: 150,
  pingTimeoutMs: 250,
  outlier: { consecutiveFailures: 2, baseEjectionMs: 200, maxEjectionMs: 1000 },
  retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
};

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});
async function upstream(opts: Parameters<typeof startUpstream>[0] = {}): Promise<UpstreamProcess> {
  const u = await startUpstream(opts);
  cleanups.push(() => u.kill());
  return u;
}
function registry(upstreams: Record<string, UpstreamConfigInput>): UpstreamRegistry {
  const r = upstreamRegistry(upstreams);
  cleanups.push(() => r.close(500));
  return r;
}
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof ConnectError, `expected a ConnectError, got ${String(e)}`);
  return e;
}
/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("upstream down at start", () => {
  test("calls fail fast with UNAVAILABLE naming the upstream and endpoint; then the ejected endpoint fails calls at once", async () => {
    const port = await deadPort();
    const reg = registry({ users: { url: `http://127.0.0.1:${port}`, ...fast, outlier: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 } } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 30_000 });
    const first = await failure(client.unary({ text: "a" }));
    assert.equal(first.code, Code.Unavailable);
    assert.match(first.rawMessage, new RegExp(`^SLUICE_UPSTREAM_CONNECT_FAILED: upstream users: cannot connect to http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    await failure(client.unary({ text: "b" }));
    const state = reg.get("users").state();
    assert.equal(state.endpoints[0]!.health, "ejected");
    assert.equal(state.available, false);
    const attemptsSoFar = state.connectFailures;
    // Ejected: no more connects, an immediate UNAVAILABLE that says why.
    const third = await failure(client.unary({ text: "c" }));
    assert.equal(third.code, Code.Unavailable);
    assert.match(third.rawMessage, /^SLUICE_UPSTREAM_NO_HEALTHY_ENDPOINT: upstream users: every endpoint is ejected/);
    assert.equal(reg.get("users").state().connectFailures, attemptsSoFar);
  });
});

describe("upstream restarts", () => {
  test("the pool reconnects by itself, and calls succeed again", async () => {
    const first = await upstream();
    const reg = registry({ users: { url: first.url, ...fast } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 10_000 });
    assert.equal((await client.unary({ text: "before" })).text, "before");
    await first.kill();
    const err = await failure(client.unary({ text: "while down" }));
    assert.equal(err.code, Code.Unavailable);
    const second = await upstream({ port: first.port });
    // No call is made while waiting: the connection comes back in the background.
    await eventually(() => reg.get("users").state().endpoints[0]!.connections.some((c) => c.state === "ready"), 15_000, "a reconnected connection");
    assert.equal((await second.stats()).connections, 1);
    assert.equal((await client.unary({ text: "after" })).text, "after");
    assert.equal(reg.get("users").state().endpoints[0]!.health, "healthy");
  });
});

describe("upstream sends GOAWAY", () => {
  test("calls in flight finish; new calls go to a fresh connection", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, ...fast } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 20_000 });
    const got: bigint[] = [];
    let firstMessage!: () => void;
    const started = new Promise<void>((r) => (firstMessage = r));
    const inFlight = (async () => {
      for await (const m of client.serverStream({ text: "long", count: 10, sleepMs: 60 })) {
        got.push(m.sequence);
        firstMessage();
      }
    })();
    await started;
    await up.goaway();
    await eventually(() => reg.get("users").state().endpoints[0]!.connections.some((c) => c.state === "draining"), 10_000, "the connection to drain");
    assert.equal((await client.unary({ text: "new" })).text, "new");
    await inFlight;
    assert.deepEqual(got, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    const stats = await up.stats();
    assert.equal(stats.totalConnections, 2, "the new call opened a second connection");
    await eventually(() => reg.get("users").state().endpoints[0]!.connections.length === 1, 10_000, "the drained connection to close");
  });
});

describe("upstream dies mid-stream", () => {
  test("the caller gets UNAVAILABLE naming the upstream and endpoint; stream and connection counts return to zero", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, ...fast } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 20_000 });
    let received = 0;
    const err = await failure((async () => {
      for await (const _ of client.serverStream({ text: "feed", count: 0, sleepMs: 20 })) {
        if (++received === 3) await up.kill();
      }
    })());
    assert.equal(err.code, Code.Unavailable);
    assert.match(err.rawMessage, new RegExp(`^SLUICE_UPSTREAM_CONNECTION_LOST: upstream users: the connection to ${up.url.replace(/\./g, "\\.")} was lost`));
    await eventually(() => {
      const s = reg.get("users").state();
      return s.activeStreams === 0 && s.endpoints[0]!.connections.every((c) => c.state !== "ready" || c.activeStreams === 0) && s.queued === 0;
    }, 10_000, "no open stream");
    await eventually(() => reg.get("users").state().endpoints[0]!.connections.filter((c) => c.state === "ready").length === 0, 10_000, "no live connection to the dead upstream");
  });
});

describe("upstream hangs", () => {
  test("it stops answering, PING included: the deadline fires, keepalive closes the dead connection", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, ...fast } });
    const client = reg.client(ProbeService, "users");
    assert.equal((await client.unary({ text: "warm" })).text, "warm");
    up.freeze();
    const err = await failure(client.unary({ text: "stuck" }, { timeoutMs: 100 }));
    assert.equal(err.code, Code.DeadlineExceeded);
    await eventually(() => reg.get("users").state().endpoints[0]!.connections.length === 0, 10_000, "keepalive to close the dead connection");
    assert.ok(reg.get("users").state().endpoints[0]!.consecutiveFailures >= 1);
    up.thaw();
  });

  test("it stops answering during a long stream: keepalive PINGs find out, and the stream fails with UNAVAILABLE", async () => {
    const up = await upstream();
    const reg = registry({ users: { url: up.url, ...fast } });
    const client = reg.client(ProbeService, "users", { timeoutMs: 60_000 });
    let received = 0;
    const err = await failure((async () => {
      for await (const _ of client.serverStream({ text: "feed", count: 0, sleepMs: 20 })) {
        if (++received === 2) up.freeze();
      }
    })());
    assert.equal(err.code, Code.Unavailable, err.message);
    assert.equal(err.rawMessage, `SLUICE_UPSTREAM_CONNECTION_LOST: upstream users: the connection to ${up.url} was lost: keepalive PING not answered within 250 ms`);
    await eventually(() => reg.get("users").state().activeStreams === 0, 10_000, "no open stream");
    up.thaw();
  });

  test("it accepts TCP and never speaks HTTP/2: UNAVAILABLE after the connect timeout, naming the endpoint", async () => {
    const up = await upstream();
    up.freeze();
    const reg = registry({ users: { url: up.url, ...fast } });
    const err = await failure(reg.client(ProbeService, "users").unary({ text: "x" }, { timeoutMs: 30_000 }));
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.rawMessage, `SLUICE_UPSTREAM_CONNECT_TIMEOUT: upstream users: ${up.url} did not complete the connection and HTTP/2 handshake within 500 ms (connectTimeoutMs)`);
    up.thaw();
  });

  test("with two endpoints, calls go to the healthy one once the hung one is found out", async () => {
    const a = await upstream();
    const b = await upstream();
    const reg = registry({ pair: { endpoints: [a.url, b.url], ...fast, outlier: { consecutiveFailures: 1, baseEjectionMs: 60_000, maxEjectionMs: 60_000 } } });
    const client = reg.client(ProbeService, "pair", { timeoutMs: 10_000 });
    await eventually(async () => {
      await client.unary({ text: "warm" });
      return (await a.stats()).totalCalls > 0 && (await b.stats()).totalCalls > 0;
    }, 10_000, "both endpoints to be in use");
    a.freeze();
    const before = (await b.stats()).totalCalls;
    for (let i = 0; i < 20; i++) assert.equal((await client.unary({ text: `c${i}` })).text, `c${i}`);
    const state = reg.get("pair").state();
    assert.equal(state.endpoints.find((e) => e.address === a.url)!.health, "ejected");
    assert.ok((await b.stats()).totalCalls >= before + 20, "every call was answered by the healthy endpoint");
    a.thaw();
  });
});

describe("one of two endpoints dies", () => {
  test("calls keep succeeding on the other", async () => {
    const a = await upstream();
    const b = await upstream();
    const reg = registry({ pair: { endpoints: [a.url, b.url], ...fast } });
    const client = reg.client(ProbeService, "pair", { timeoutMs: 10_000 });
    await eventually(async () => {
      await client.unary({ text: "warm" });
      return (await a.stats()).totalCalls > 0 && (await b.stats()).totalCalls > 0;
    }, 10_000, "both endpoints to be in use");
    await a.kill();
    for (let i = 0; i < 20; i++) assert.equal((await client.unary({ text: `c${i}` })).text, `c${i}`);
    const dead = reg.get("pair").state().endpoints.find((e) => e.address === a.url)!;
    assert.notEqual(dead.health, "healthy");
  });

  test("an endpoint that answers UNAVAILABLE: calls that land there are retried on the other", async () => {
    const bad = await upstream({ unavailable: true });
    const good = await upstream();
    const reg = registry({ pair: { endpoints: [bad.url, good.url], ...fast, outlier: { consecutiveFailures: 1000, baseEjectionMs: 1, maxEjectionMs: 1 } } });
    const client = reg.client(ProbeService, "pair", { timeoutMs: 10_000 });
    for (let i = 0; i < 20; i++) assert.equal((await client.unary({ text: `r${i}` })).text, `r${i}`);
    const badCalls = (await bad.stats()).totalCalls;
    assert.ok(badCalls > 0, "some calls landed on the bad endpoint first");
    assert.equal(reg.get("pair").state().retries, badCalls, "each was retried once, on the good endpoint");
  });
});
