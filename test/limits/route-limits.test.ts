// Every per-route limit and every slow-consumer policy, on gRPC (HTTP/2)
// and on gRPC-Web (HTTP/1.1), against the real gateway with Connect-ES
// clients: the exact status (with google.rpc.RetryInfo where a retry makes
// sense), a message naming the route and the limit, the counter, and that
// other calls are served meanwhile.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FeedRequestSchema, HoldRequestSchema, TickSchema } from "../gen/flow/v1/flow_pb.js";
import { chunks, flowProtocols, pause, startFlowGateway, until, type FlowGateway, type FlowProtocol } from "../support/flow-gateway.js";
import { envelope, h1Request } from "../support/raw-http.js";
import { rawServerStream, type RawStream } from "../support/raw-stream-client.js";
import { failure, retryDelayMs, collect } from "../support/call-outcome.js";

describe("deadlines and the first-message timeout around the queue", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-queue-deadline", {
      firstMessageTimeoutMs: 500,
      defaultTimeoutMs: 60_000,
      limits: { "flow.v1.FlowService/Hold": { maxConcurrent: 1, queue: 5, queueTimeoutMs: 20_000 } },
    });
  });
  after(() => gw?.stop());

  test("the client's deadline runs while its call waits in the queue: DEADLINE_EXCEEDED there, and its handler never runs", async () => {
    const flow = gw.clients.grpc;
    const holding = flow.hold({ key: "qd" });
    await until("a call holding the slot", async () => {
      const c = await gw.clients["grpc-web"].count({});
      return c.holdsStarted - c.holdsReturned === 1n;
    });
    const started = (await gw.clients["grpc-web"].count({})).holdsStarted;
    // A raw client that leaves the deadline to the server (it does not cancel
    // at its deadline, as Connect-ES would): the answer must come from the
    // gateway, long before the slot is freed (the holder waits for release)
    // or queueTimeoutMs.
    const session = http2.connect(gw.url);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/flow.v1.FlowService/Hold", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "800m" });
      let answer: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => (answer = { ...answer, ...h }));
      stream.on("trailers", (t) => (answer = { ...answer, ...t }));
      stream.on("error", () => {});
      stream.resume();
      stream.end(envelope(toBinary(HoldRequestSchema, create(HoldRequestSchema, { key: "qd" }))));
      await until("the gateway's answer", () => answer["grpc-status"] !== undefined, 10_000);
      assert.equal(answer["grpc-status"], String(Code.DeadlineExceeded), decodeURIComponent(String(answer["grpc-message"])));
    } finally {
      session.destroy();
    }
    assert.equal((await gw.clients["grpc-web"].count({})).holdsStarted, started, "the expired call's handler did not run");
    assert.equal((await gw.clients["grpc-web"].release({ key: "qd" })).released, 1);
    await holding;
  });

  test("a unary call that sends its message but never ends its side of the stream ends at firstMessageTimeoutMs", async () => {
    const session = http2.connect(gw.url);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/flow.v1.FlowService/Count", "content-type": "application/grpc", te: "trailers" });
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => (trailers = { ...trailers, ...h }));
      stream.on("trailers", (t) => (trailers = { ...trailers, ...t }));
      stream.on("error", () => {});
      stream.resume();
      // The one request message, and no END_STREAM.
      stream.write(Buffer.from([0, 0, 0, 0, 0]));
      await until("the call ended by the gateway", () => trailers["grpc-status"] !== undefined, 10_000);
      assert.equal(trailers["grpc-status"], String(Code.DeadlineExceeded));
      assert.match(decodeURIComponent(String(trailers["grpc-message"])), /^SLUICE_LIMIT_FIRST_MESSAGE_TIMEOUT/);
    } finally {
      session.destroy();
    }
  });
});

describe("maxConcurrent", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-concurrent", { limits: { "flow.v1.FlowService/Hold": { maxConcurrent: 2 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`the call past maxConcurrent gets RESOURCE_EXHAUSTED with RetryInfo at once, on ${p}; other routes are served`, async () => {
      const held = [gw.clients[p].hold({ key: `c-${p}` }), gw.clients[p].hold({ key: `c-${p}` })];
      await until("two calls holding", async () => {
        const c = await gw.clients[p].count({});
        return c.holdsStarted - c.holdsReturned === 2n;
      });
      const e = await failure(gw.clients[p].hold({ key: `c-${p}`, maxMs: 1 }));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_CONCURRENCY: flow\.v1\.FlowService\/Hold: 2 calls are already in flight \(limits maxConcurrent 2\)/);
      assert.ok(retryDelayMs(e)! > 0, "a RetryInfo detail with a delay");
      // Another route of the same service, and the same client, are served meanwhile.
      assert.equal((await gw.clients[p].release({ key: "nobody" })).released, 0);
      assert.equal((await gw.clients[p].release({ key: `c-${p}` })).released, 2);
      await Promise.all(held);
      // The slots are back: the next call runs.
      assert.ok((await gw.clients[p].hold({ key: `c-${p}`, maxMs: 1 })).invocation > 0n);
    });
  }

  test("refusals are counted per route", async () => {
    const { code, limits } = await gw.stopAndCount();
    assert.equal(code, 0);
    assert.equal(limits.maxConcurrent, 2);
  });
});

describe("queue and queueTimeoutMs", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-queue", { limits: { "flow.v1.FlowService/Hold": { maxConcurrent: 1, queue: 1, queueTimeoutMs: 600 } } });
  });
  after(() => gw?.stop());

  const inFlight = async (p: FlowProtocol) => {
    const c = await gw.clients[p].count({});
    return c.holdsStarted - c.holdsReturned;
  };

  for (const p of flowProtocols) {
    test(`a queued call runs when the slot frees; one more than the queue holds is refused, on ${p}`, async () => {
      const first = gw.clients[p].hold({ key: `q-${p}` });
      await until("the first call holding", async () => (await inFlight(p)) === 1n);
      const queued = gw.clients[p].hold({ key: `q2-${p}`, maxMs: 1 });
      await pause(100);
      const full = await failure(gw.clients[p].hold({ key: `q-${p}`, maxMs: 1 }));
      assert.equal(full.code, Code.ResourceExhausted);
      assert.match(full.rawMessage, /^SLUICE_LIMIT_QUEUE_FULL: flow\.v1\.FlowService\/Hold: 1 calls are in flight and 1 are waiting/);
      assert.ok(retryDelayMs(full)! > 0);
      // The queued call has not run yet: only the first one started.
      const started = (await gw.clients[p].count({})).holdsStarted;
      await gw.clients[p].release({ key: `q-${p}` });
      const first1 = await first;
      const second = await queued;
      assert.equal(second.invocation, first1.invocation + 1n, "the queued call started right after the first");
      assert.equal(second.invocation, started + 1n);
    });

    test(`a call that waits longer than queueTimeoutMs gets RESOURCE_EXHAUSTED, on ${p}`, async () => {
      const first = gw.clients[p].hold({ key: `t-${p}` });
      await until("the first call holding", async () => (await inFlight(p)) === 1n);
      const e = await failure(gw.clients[p].hold({ key: `t-${p}`, maxMs: 1 }));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_QUEUE_TIMEOUT: flow\.v1\.FlowService\/Hold: no call slot became free within 600 ms/);
      assert.equal(retryDelayMs(e), 600);
      await gw.clients[p].release({ key: `t-${p}` });
      await first;
    });
  }

  test("at shutdown a queued call gets UNAVAILABLE; the call in flight finishes", async () => {
    const first = gw.clients.grpc.hold({ key: "drain", maxMs: 1500 });
    await until("the first call holding", async () => (await inFlight("grpc")) === 1n);
    const queued = failure(gw.clients.grpc.hold({ key: "drain", maxMs: 1 }));
    await pause(100);
    const { code, limits } = await Promise.all([gw.stopAndCount(), first]).then(([s]) => s);
    const e = await queued;
    assert.equal(e.code, Code.Unavailable);
    assert.match(e.rawMessage, /SLUICE_RPC_DRAINING/);
    assert.equal(code, 0);
    assert.equal(limits.queueFull, 2);
    assert.equal(limits.queueTimeout, 2);
  });
});

describe("rate", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-rate", {
      limits: {
        "flow.v1.FlowService/Release": { rate: { perSecond: 0.5, burst: 3, key: { header: "x-api-key" } } },
        "flow.v1.FlowService/Count": { rate: { perSecond: 0.5, burst: 2, key: "address" } },
      },
    });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`past its burst a key gets RESOURCE_EXHAUSTED with the wait in RetryInfo; another key is served, on ${p}`, async () => {
      const as = (key: string) => ({ headers: { "x-api-key": `${key}-${p}` } });
      for (let i = 0; i < 3; i++) await gw.clients[p].release({ key: "k" }, as("alice"));
      const e = await failure(gw.clients[p].release({ key: "k" }, as("alice")));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_RATE: flow\.v1\.FlowService\/Release: more than 0\.5 calls per second \(limits rate\); retry in \d+ ms/);
      const delay = retryDelayMs(e)!;
      assert.ok(delay > 0 && delay <= 2000, `retry delay ${delay} ms: a token comes every 2 s`);
      // Bob has his own bucket.
      assert.equal((await gw.clients[p].release({ key: "k" }, as("bob"))).released, 0);
    });
  }

  test("keyed by address: one client address shares one bucket, whatever its connection or protocol", async () => {
    await gw.clients.grpc.count({});
    await gw.clients["grpc-web"].count({});
    const e = await failure(gw.clients.grpc.count({}));
    assert.equal(e.code, Code.ResourceExhausted);
    assert.match(e.rawMessage, /SLUICE_LIMIT_RATE: flow\.v1\.FlowService\/Count/);
  });

  test("refusals are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.rate, 3);
  });
});

describe("messagesPerSecond, maxStreamMessages, maxMessageBytes", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-messages", {
      limits: {
        "flow.v1.FlowService": { maxStreamMessages: { in: 30, out: 30 }, maxMessageBytes: 2048 },
        "flow.v1.FlowService/Feed": { messagesPerSecond: { out: 20 } },
        "flow.v1.FlowService/Upload": { messagesPerSecond: { in: 20 } },
      },
    });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a client sending faster than messagesPerSecond is slowed, not cut off, and nothing is lost, on ${p}`, async () => {
      const summary = await gw.clients[p].upload(chunks(28));
      assert.equal(summary.count, 28n);
      assert.deepEqual(summary.sequences, Array.from({ length: 28 }, (_, i) => BigInt(i + 1)));
    });

    test(`a handler producing faster than messagesPerSecond is held back, nothing is lost, on ${p}`, async () => {
      const ticks = await collect(gw.clients[p].feed({ count: 28 }));
      assert.deepEqual(ticks.map((t) => t.sequence), Array.from({ length: 28 }, (_, i) => BigInt(i + 1)));
    });

    test(`one request message past maxStreamMessages ends the call with RESOURCE_EXHAUSTED, on ${p}`, async () => {
      const e = await failure(gw.clients[p].upload(chunks(40)));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_STREAM_MESSAGES: flow\.v1\.FlowService\/Upload: the stream carried more than 30 request messages \(limits maxStreamMessages\.in 30\)/);
      assert.equal(retryDelayMs(e), undefined, "retrying the same stream would fail the same way");
    });

    test(`one response message past maxStreamMessages ends the call with RESOURCE_EXHAUSTED after the 30th, on ${p}`, async () => {
      const got: bigint[] = [];
      const e = await failure(async () => {
        for await (const t of gw.clients[p].feed({ count: 40 })) got.push(t.sequence);
      });
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /more than 30 response messages \(limits maxStreamMessages\.out 30\)/);
      assert.equal(got.length, 30);
    });

    test(`messages larger than maxMessageBytes are refused both ways, on ${p}`, async () => {
      const tooBig = await failure(gw.clients[p].upload(chunks(1, 4096)));
      assert.equal(tooBig.code, Code.ResourceExhausted);
      assert.match(tooBig.rawMessage, /larger than configured readMaxBytes 2048/);
      const tooBigOut = await failure(collect(gw.clients[p].feed({ count: 1, size: 4096 })));
      assert.equal(tooBigOut.code, Code.ResourceExhausted);
    });
  }

  test("pacing and refusals are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.pacedIn ?? 0) > 0, "request pacing engaged");
    assert.ok((limits.pacedOut ?? 0) > 0, "response pacing engaged");
    assert.equal(limits.maxStreamMessagesIn, 2);
    assert.equal(limits.maxStreamMessagesOut, 2);
  });
});

describe("maxDurationMs and idleTimeoutMs", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-time", {
      limits: {
        "flow.v1.FlowService/Feed": { maxDurationMs: 500 },
        "flow.v1.FlowService/Upload": { idleTimeoutMs: 400 },
      },
    });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a stream reaching maxDurationMs ends with DEADLINE_EXCEEDED, whatever the client's deadline, on ${p}`, async () => {
      let got = 0;
      const e = await failure(async () => {
        for await (const _ of gw.clients[p].feed({ count: 0, intervalMs: 20 }, { timeoutMs: 60_000 })) got++;
      });
      assert.equal(e.code, Code.DeadlineExceeded);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_MAX_DURATION: flow\.v1\.FlowService\/Feed: the call reached the longest duration allowed, 500 ms \(limits maxDurationMs\)/);
      assert.ok(got > 0);
    });

    test(`a stream with no message either way for idleTimeoutMs ends with DEADLINE_EXCEEDED; a busy one does not, on ${p}`, async () => {
      const busy = await gw.clients[p].upload(chunks(8, 8, 150));
      assert.equal(busy.count, 8n, "messages every 150 ms keep a 400 ms idle timeout away");
      const e = await failure(gw.clients[p].upload(chunks(2, 8, 1500)));
      assert.equal(e.code, Code.DeadlineExceeded);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_IDLE_TIMEOUT: flow\.v1\.FlowService\/Upload: no message in either direction for 400 ms/);
    });
  }

  test("both are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.maxDuration, 2);
    assert.equal(limits.idleTimeout, 2);
  });
});

const big = 64 * 1024;
const feedPath = "/flow.v1.FlowService/Feed";
const feedRequest = (count: number, size: number, intervalMs = 0) => toBinary(FeedRequestSchema, create(FeedRequestSchema, { count, size, intervalMs }));
const sequencesOf = (s: RawStream) => s.messages.map((m) => fromBinary(TickSchema, m).sequence);

/** Resolves once `read()` has returned the same value for 400 ms. */
async function steady(what: string, read: () => Promise<bigint>): Promise<bigint> {
  let last = await read();
  let since = performance.now();
  await until(what, async () => {
    const now = await read();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
    return performance.now() - since >= 400;
  }, 20_000);
  return last;
}

describe("slow consumer: block", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-block", { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "block", outboundBufferBytes: 65536 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`the handler is not pulled while the client does not read; then every message arrives, in order, on ${p}`, async () => {
      const produced = async () => (await gw.clients.grpc.count({})).produced;
      const start = await produced();
      const count = 600;
      const s = rawServerStream(gw.url, feedPath, feedRequest(count, big), p);
      s.pause();
      // Buffers on the way (flow-control windows, socket buffers) fill, then production stops.
      const stopped = await steady("production to stop", produced);
      assert.ok(stopped - start < BigInt(count), `the handler was paused after ${stopped - start} of ${count} messages`);
      s.resume();
      const end = await s.done;
      assert.deepEqual(end, { status: 0, message: "" });
      assert.deepEqual(sequencesOf(s), Array.from({ length: count }, (_, i) => BigInt(i + 1)));
    });
  }

  test("stalled streams are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.slowConsumerBlocked ?? 0) >= 2);
  });
});

describe("slow consumer: drop-oldest", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-drop", { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "drop-oldest" } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a reader that falls behind skips to the newest messages; the stream ends normally, on ${p}`, async () => {
      const count = 300;
      const produced = async () => (await gw.clients.grpc.count({})).produced;
      const start = await produced();
      const s = rawServerStream(gw.url, feedPath, feedRequest(count, big, 2), p);
      s.pause();
      // The handler is not held back: it produces every message while the reader sleeps.
      await until("every message produced", async () => (await produced()) - start === BigInt(count), 20_000);
      s.resume();
      const end = await s.done;
      assert.deepEqual(end, { status: 0, message: "" });
      const got = sequencesOf(s);
      assert.equal(got.at(-1), BigInt(count), "the newest message arrived");
      assert.ok(got.length < count, `some messages were dropped (${got.length} of ${count} arrived)`);
      for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, "in order, no repeats");
    });
  }

  test("dropped messages are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.slowConsumerDropped ?? 0) > 0);
  });
});

describe("slow consumer: cancel", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-cancel", { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "cancel", slowConsumerMs: 300 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a reader whose buffer stays full for slowConsumerMs gets RESOURCE_EXHAUSTED if it reads again soon after; others are served, on ${p}`, async () => {
      const logged = () => gw.output().match(/"rpc":"\/flow\.v1\.FlowService\/Feed","code":"ResourceExhausted"/g)?.length ?? 0;
      const before = logged();
      const s = rawServerStream(gw.url, feedPath, feedRequest(0, big), p);
      s.pause();
      // The status waits behind the unread responses for endGraceMs (1 s), then the
      // stream is reset (test/limits/stalled-reader-end.test.ts): read again before that.
      await until("the call ended", () => logged() > before);
      s.resume();
      const end = await s.done;
      assert.equal(end.status, Code.ResourceExhausted);
      assert.match(end.message, /^SLUICE_LIMIT_SLOW_CONSUMER: flow\.v1\.FlowService\/Feed: the client is not reading its responses/);
      assert.equal((await collect(gw.clients[p].feed({ count: 3 }))).length, 3);
    });
  }

  test("cancelled streams are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.slowConsumerCancelled, 2);
  });
});

describe("overload: in-flight cap and buffered bytes", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("limits-overload", {
      overload: { maxInFlight: 5, maxBufferedBytes: 1048576 },
      limits: { "flow.v1.FlowService/Feed": { outboundBufferBytes: 512 * 1024 } },
    });
  });
  after(() => gw?.stop());

  const health = () => createClient(Health, createGrpcTransport({ baseUrl: gw.url })).check({ service: "" });

  for (const p of flowProtocols) {
    test(`past overload.maxInFlight a new call gets UNAVAILABLE with RetryInfo; health checks still answer, on ${p}`, async () => {
      // Five calls that end by themselves after a while hold every in-flight slot.
      const held = [0, 1, 2, 3, 4].map(() => gw.clients.grpc.hold({ key: `o-${p}`, maxMs: 1500 }));
      let e: ConnectError | undefined;
      await until("a call shed", async () => {
        e = await gw.clients[p].count({}).then(() => undefined, (x: unknown) => ConnectError.from(x));
        return e !== undefined;
      });
      assert.equal(e!.code, Code.Unavailable);
      assert.match(e!.rawMessage, /^SLUICE_OVERLOADED: the server is overloaded \(overload\.maxInFlight calls are in flight\)/);
      assert.equal(retryDelayMs(e!), 1000);
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 200, "readiness answers");
      assert.equal((await health()).status, 1, "gRPC health answers SERVING");
      await Promise.all(held);
      assert.ok((await gw.clients[p].count({})).holdsStarted >= 5n, "served again once the calls finished");
    });
  }

  test("past overload.maxBufferedBytes of responses waiting for slow readers, new calls are shed; health answers on new connections; existing streams go on", async () => {
    const observer = gw.clients.grpc;
    await observer.count({});
    // Three streams to readers that read for a while (so the gateway trusts
    // them with their whole 512 KiB buffer), then stopped.
    const stalled = [0, 1, 2].map(() => rawServerStream(gw.url, feedPath, feedRequest(0, big), "grpc"));
    await until("the streams flowing", () => stalled.every((s) => s.messages.length >= 40));
    for (const s of stalled) s.pause();
    let shed: ConnectError | undefined;
    await until("shedding for buffered bytes", async () => {
      shed = await observer.count({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
      return shed !== undefined;
    });
    assert.equal(shed!.code, Code.Unavailable);
    assert.match(shed!.rawMessage, /overload\.maxBufferedBytes of responses wait for slow readers/);
    try {
      // A liveness probe opens a new connection each time: it is answered
      // while calls are shed. (The buffered total can dip under the limit
      // for a moment as the queues hand bytes to the sockets: shedding is
      // checked on both sides of the probe.)
      const isShed = () => observer.count({}).then(() => false, () => true);
      await until("a new connection's /healthz answered while calls are shed", async () =>
        (await isShed()) && (await h1Request(gw.port, { method: "GET", path: "/healthz" }).then((r) => r.status === 200, () => false)) && (await isShed()));
      // The stalled streams were not cut: one that reads again gets more.
      const before0 = stalled[0]!.messages.length;
      stalled[0]!.resume();
      await until("the resumed stream to receive", () => stalled[0]!.messages.length > before0 + 10);
    } finally {
      for (const s of stalled) s.close();
    }
    await until("recovery once the stalled streams are gone", async () => observer.count({}).then(() => true, () => false));
  });

  test("shed calls are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.shedInFlight ?? 0) >= 2);
    assert.ok((limits.shedBufferedBytes ?? 0) >= 1);
  });
});
