// Every per-route limit and every slow-consumer policy on a proxy route:
// the gateway runs with no function files and routes flow.v1.FlowService to
// a real upstream process (connect-node serving the flow function,
// test/support/upstream-server.ts), and Connect-ES clients (gRPC over
// HTTP/2, gRPC-Web over HTTP/1.1, gRPC-Web over WebSocket) or raw node:http2
// and node:http clients (to play a reader that stops) call through it. Each
// test asserts the exact status, the message naming the route and the
// limit, that other calls are served meanwhile, and the counters; what the
// upstream did is read from it (Count, through the route).
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createWebSocketTransport } from "../../src/web/web-transport.js";
import { FeedRequestSchema, FlowService, TickSchema } from "../gen/flow/v1/flow_pb.js";
import { chunks, flowProtocols, pause, until, type FlowGateway, type FlowProtocol } from "../support/flow-gateway.js";
import { startFlowProxy, type UpstreamProtocol } from "../support/flow-proxy.js";
import { NodeWebSocket } from "../support/grpc-websocket.js";
import { h1Request } from "../support/raw-http.js";
import { rawServerStream, type RawStream } from "../support/raw-stream-client.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";
import { collect, failure, retryDelayMs } from "../support/call-outcome.js";

/** One upstream process for the whole file; each describe starts its own gateway in front of it. */
let upstream: UpstreamProcess;
before(async () => {
  upstream = await startUpstream({ impl: "connect" });
});
after(() => upstream?.kill());

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));

/** Hold calls running at the upstream now. */
async function holding(gw: FlowGateway): Promise<bigint> {
  const c = await gw.clients.grpc.count({});
  return c.holdsStarted - c.holdsReturned;
}

/** Resolves once the gateway has logged `n` calls of `rpc` ending with `code` (its per-call "rpc" lines). */
function calledLogged(gw: FlowGateway, rpc: string, code: string, n: number): Promise<void> {
  const line = new RegExp(`"rpc":"${rpc.replace(/[./]/g, "\\$&")}","upstream":"flow","code":"${code}"`, "g");
  return until(`${n} ${rpc} calls logged with ${code}`, () => (gw.output().match(line)?.length ?? 0) >= n, 20_000);
}

describe("proxy route: maxConcurrent", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-concurrent", upstream, { limits: { "flow.v1.FlowService/Hold": { maxConcurrent: 2 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`the call past maxConcurrent gets RESOURCE_EXHAUSTED with RetryInfo at once and never reaches the upstream, on ${p}; others are served`, async () => {
      const before = await holding(gw);
      const held = [gw.clients[p].hold({ key: `pc-${p}` }), gw.clients[p].hold({ key: `pc-${p}` })];
      await until("two calls holding at the upstream", async () => (await holding(gw)) === before + 2n);
      const started = (await gw.clients.grpc.count({})).holdsStarted;
      const e = await failure(gw.clients[p].hold({ key: `pc-${p}`, maxMs: 1 }));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_CONCURRENCY: flow\.v1\.FlowService\/Hold: 2 calls are already in flight \(limits maxConcurrent 2\)/);
      assert.ok(retryDelayMs(e)! > 0, "a RetryInfo detail with a delay");
      assert.equal((await gw.clients.grpc.count({})).holdsStarted, started, "the refused call was not sent upstream");
      // Another route of the service, and another client on its own connection, are served meanwhile.
      const other = gw.client(p);
      try {
        assert.equal((await other.flow.release({ key: "nobody" })).released, 0);
      } finally {
        other.close();
      }
      assert.equal((await gw.clients[p].release({ key: `pc-${p}` })).released, 2);
      await Promise.all(held);
      // The slots are back once the upstream calls have ended.
      assert.ok((await gw.clients[p].hold({ key: `pc-${p}`, maxMs: 1 })).invocation > 0n);
    });
  }

  test("a gRPC-Web call over WebSocket past maxConcurrent gets RESOURCE_EXHAUSTED with RetryInfo; a WebSocket call is served once a slot frees", async () => {
    const ws = createClient(FlowService, createWebSocketTransport({ baseUrl: gw.url, webSocket: NodeWebSocket }));
    const before = await holding(gw);
    const held = [gw.clients.grpc.hold({ key: "pc-ws" }), ws.hold({ key: "pc-ws" })];
    await until("two calls holding at the upstream", async () => (await holding(gw)) === before + 2n);
    const e = await failure(ws.hold({ key: "pc-ws", maxMs: 1 }));
    assert.equal(e.code, Code.ResourceExhausted);
    assert.match(e.rawMessage, /^SLUICE_LIMIT_CONCURRENCY: flow\.v1\.FlowService\/Hold: 2 calls are already in flight/);
    assert.ok(retryDelayMs(e)! > 0);
    assert.equal((await ws.release({ key: "pc-ws" })).released, 2, "served over WebSocket meanwhile");
    await Promise.all(held);
    assert.ok((await ws.hold({ key: "pc-ws", maxMs: 1 })).invocation > 0n);
  });

  test("refusals are counted", async () => {
    const { code, limits } = await gw.stopAndCount();
    assert.equal(code, 0);
    assert.equal(limits.maxConcurrent, 3);
  });
});

describe("proxy route: queue and queueTimeoutMs", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-queue", upstream, { limits: { "flow.v1.FlowService/Hold": { maxConcurrent: 1, queue: 1, queueTimeoutMs: 600 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a queued call goes upstream when the slot frees; one more than the queue holds is refused, on ${p}`, async () => {
      const base = await holding(gw);
      const first = gw.clients[p].hold({ key: `pq-${p}` });
      await until("the first call holding", async () => (await holding(gw)) === base + 1n);
      const queued = gw.clients[p].hold({ key: `pq2-${p}`, maxMs: 1 });
      await pause(100);
      const full = await failure(gw.clients[p].hold({ key: `pq-${p}`, maxMs: 1 }));
      assert.equal(full.code, Code.ResourceExhausted);
      assert.match(full.rawMessage, /^SLUICE_LIMIT_QUEUE_FULL: flow\.v1\.FlowService\/Hold: 1 calls are in flight and 1 are waiting/);
      assert.ok(retryDelayMs(full)! > 0);
      // The queued call has not reached the upstream yet.
      const started = (await gw.clients.grpc.count({})).holdsStarted;
      await gw.clients[p].release({ key: `pq-${p}` });
      const first1 = await first;
      const second = await queued;
      assert.equal(second.invocation, first1.invocation + 1n, "the queued call started right after the first");
      assert.equal(second.invocation, started + 1n);
    });

    test(`a call that waits longer than queueTimeoutMs gets RESOURCE_EXHAUSTED, on ${p}`, async () => {
      const base = await holding(gw);
      const first = gw.clients[p].hold({ key: `pt-${p}` });
      await until("the first call holding", async () => (await holding(gw)) === base + 1n);
      const e = await failure(gw.clients[p].hold({ key: `pt-${p}`, maxMs: 1 }));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.match(e.rawMessage, /^SLUICE_LIMIT_QUEUE_TIMEOUT: flow\.v1\.FlowService\/Hold: no call slot became free within 600 ms/);
      assert.equal(retryDelayMs(e), 600);
      assert.equal((await gw.clients[p].release({ key: `pt-${p}` })).released, 1, "only the first call reached the upstream");
      await first;
    });
  }

  test("refusals and waits are counted", async () => {
    const { code, limits } = await gw.stopAndCount();
    assert.equal(code, 0);
    assert.equal(limits.queueFull, 2);
    assert.equal(limits.queueTimeout, 2);
    assert.equal(limits.queued, 4);
  });
});

describe("proxy route: rate", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-rate", upstream, {
      limits: { "flow.v1.FlowService/Release": { rate: { perSecond: 0.5, burst: 3, key: { header: "x-api-key" } } } },
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
      assert.equal((await gw.clients[p].release({ key: "k" }, as("bob"))).released, 0, "bob has his own bucket");
      // Another route of the proxied service has no rate.
      for (let i = 0; i < 5; i++) await gw.clients[p].count({}, as("alice"));
    });
  }

  test("refusals are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.rate, 2);
  });
});

// Message counts and pacing on frames, whatever the upstream's protocol:
// its end-of-stream frame (gRPC-Web trailers, Connect's end message) is not a message.
for (const upstreamProtocol of ["grpc", "grpc-web", "connect"] as UpstreamProtocol[]) {
  describe(`proxy route to a ${upstreamProtocol} upstream: messagesPerSecond, maxStreamMessages, maxMessageBytes`, () => {
    let gw: FlowGateway;
    before(async () => {
      gw = await startFlowProxy(`proxy-messages-${upstreamProtocol}`, upstream, {
        limits: {
          "flow.v1.FlowService": { maxStreamMessages: { in: 30, out: 30 }, maxMessageBytes: 2048 },
          "flow.v1.FlowService/Feed": { messagesPerSecond: { out: 20 } },
          "flow.v1.FlowService/Upload": { messagesPerSecond: { in: 20 } },
        },
      }, upstreamProtocol);
    });
    after(() => gw?.stop());

    for (const p of flowProtocols) {
      test(`a client sending faster than messagesPerSecond is slowed, not cut off, and the upstream gets every message, on ${p}`, async () => {
        const summary = await gw.clients[p].upload(chunks(28));
        assert.equal(summary.count, 28n);
        assert.deepEqual(summary.sequences, oneTo(28));
      });

      test(`an upstream answering faster than messagesPerSecond is read slower; nothing is lost, on ${p}`, async () => {
        const ticks = await collect(gw.clients[p].feed({ count: 28 }));
        assert.deepEqual(ticks.map((t) => t.sequence), oneTo(28));
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
        assert.match(e.rawMessage, /^SLUICE_LIMIT_STREAM_MESSAGES: flow\.v1\.FlowService\/Feed: the stream carried more than 30 response messages \(limits maxStreamMessages\.out 30\)/);
        assert.deepEqual(got, oneTo(30));
        // Exactly 30 is not too many: the end of the upstream's stream is not counted as a message.
        assert.equal((await collect(gw.clients[p].feed({ count: 30 }))).length, 30);
      });

      test(`messages larger than maxMessageBytes are refused both ways, on ${p}`, async () => {
        const tooBig = await failure(gw.clients[p].upload(chunks(1, 4096)));
        assert.equal(tooBig.code, Code.ResourceExhausted);
        assert.match(tooBig.rawMessage, /larger than configured readMaxBytes 2048/);
        const tooBigOut = await failure(collect(gw.clients[p].feed({ count: 1, size: 4096 })));
        assert.equal(tooBigOut.code, Code.ResourceExhausted);
        assert.match(tooBigOut.rawMessage, /the upstream sent a message of \d+ bytes, more than writeMaxBytes 2048/);
        // An endless stream is cut at its first message that is too large, not left running.
        const endless = await failure(collect(gw.clients[p].feed({ count: 0, size: 4096 })));
        assert.equal(endless.code, Code.ResourceExhausted);
        assert.match(endless.rawMessage, /more than writeMaxBytes 2048/);
        // Within the bound, the same calls pass.
        assert.equal((await gw.clients[p].upload(chunks(2, 1024))).count, 2n);
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
}

describe("proxy route: maxDurationMs and idleTimeoutMs", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-time", upstream, {
      limits: {
        "flow.v1.FlowService/Feed": { maxDurationMs: 500 },
        "flow.v1.FlowService/Upload": { idleTimeoutMs: 400 },
        "flow.v1.FlowService/Echo": { idleTimeoutMs: 400 },
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

  test("bidi over HTTP/2: messages either way keep the idle timeout away; silence ends the call", async () => {
    const echoed = await collect(gw.clients.grpc.echo(chunks(6, 8, 150)));
    assert.deepEqual(echoed.map((t) => t.sequence), oneTo(6));
    const got: bigint[] = [];
    const e = await failure(async () => {
      for await (const t of gw.clients.grpc.echo(chunks(3, 8, 1500))) got.push(t.sequence);
    });
    assert.equal(e.code, Code.DeadlineExceeded);
    assert.match(e.rawMessage, /^SLUICE_LIMIT_IDLE_TIMEOUT: flow\.v1\.FlowService\/Echo/);
    assert.deepEqual(got, []);
  });

  test("both are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.maxDuration, 2);
    assert.equal(limits.idleTimeout, 3);
  });
});

describe("proxy route: firstMessageTimeoutMs", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-first-message", upstream, { firstMessageTimeoutMs: 1000 });
  });
  after(() => gw?.stop());

  /** A gRPC call whose request headers go out and whose message never does. */
  function silentCall(path: string): Promise<{ status: number; message: string }> {
    const session = http2.connect(gw.url);
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    let trailers: http2.IncomingHttpHeaders = {};
    let headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.resume();
    return new Promise((resolve) => {
      stream.on("close", () => {
        session.close();
        const t = trailers["grpc-status"] !== undefined ? trailers : headers;
        resolve({ status: Number(t["grpc-status"] ?? -1), message: decodeURIComponent(String(t["grpc-message"] ?? "")) });
      });
    });
  }

  test("a unary or server-streaming call whose request message does not come ends with DEADLINE_EXCEEDED, and never reaches the upstream", async () => {
    const started = (await gw.clients.grpc.count({})).holdsStarted;
    const [unary, stream] = await Promise.all([silentCall("/flow.v1.FlowService/Hold"), silentCall("/flow.v1.FlowService/Feed")]);
    assert.equal(unary.status, Code.DeadlineExceeded);
    assert.match(unary.message, /^SLUICE_LIMIT_FIRST_MESSAGE_TIMEOUT: flow\.v1\.FlowService\/Hold/);
    assert.equal(stream.status, Code.DeadlineExceeded);
    assert.match(stream.message, /^SLUICE_LIMIT_FIRST_MESSAGE_TIMEOUT: flow\.v1\.FlowService\/Feed/);
    assert.equal((await gw.clients.grpc.count({})).holdsStarted, started);
  });

  for (const p of flowProtocols) {
    test(`a call whose request came goes on past firstMessageTimeoutMs, on ${p}`, async () => {
      const ticks = await collect(gw.clients[p].feed({ count: 8, intervalMs: 200 }));
      assert.deepEqual(ticks.map((t) => t.sequence), oneTo(8));
      assert.ok((await gw.clients[p].hold({ key: "fm", maxMs: 1200 })).invocation > 0n);
    });
  }

  test("the timeouts are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.firstMessageTimeout, 2);
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

describe("proxy route, slow consumer: block", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-block", upstream, { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "block", outboundBufferBytes: 65536 } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`the upstream's response is not read while the client does not read; then every message arrives, in order, on ${p}`, async () => {
      const produced = async () => (await gw.clients.grpc.count({})).produced;
      const start = await produced();
      const count = 600;
      const s = rawServerStream(gw.url, feedPath, feedRequest(count, big), p);
      s.pause();
      // Buffers on the way (windows on both legs, socket buffers) fill, then the upstream's production stops.
      const stopped = await steady("the upstream's production to stop", produced);
      assert.ok(stopped - start < BigInt(count), `the upstream was held back after ${stopped - start} of ${count} messages`);
      s.resume();
      const end = await s.done;
      assert.deepEqual(end, { status: 0, message: "" });
      assert.deepEqual(sequencesOf(s), oneTo(count));
    });
  }

  test("stalled streams are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.slowConsumerBlocked ?? 0) >= 2);
    assert.equal(limits.slowConsumerDropped ?? 0, 0);
  });
});

describe("proxy route, slow consumer: drop-oldest", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-drop", upstream, { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "drop-oldest" } } });
  });
  after(() => gw?.stop());

  for (const p of flowProtocols) {
    test(`a reader that falls behind skips to the newest messages while the upstream is read on; the stream ends normally, on ${p}`, async () => {
      const count = 300;
      const produced = async () => (await gw.clients.grpc.count({})).produced;
      const start = await produced();
      const s = rawServerStream(gw.url, feedPath, feedRequest(count, big, 2), p);
      s.pause();
      // The upstream is not held back: it produces every message while the reader sleeps.
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

describe("proxy route, slow consumer: cancel", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-cancel", upstream, { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "cancel", slowConsumerMs: 300 } } });
  });
  after(() => gw?.stop());

  flowProtocols.forEach((p: FlowProtocol, i) => {
    test(`a reader whose buffer stays full for slowConsumerMs gets RESOURCE_EXHAUSTED and the upstream call ends; others are served, on ${p}`, async () => {
      const produced = async () => (await gw.clients.grpc.count({})).produced;
      const s = rawServerStream(gw.url, feedPath, feedRequest(0, big), p);
      s.pause();
      await calledLogged(gw, "/flow.v1.FlowService/Feed", "ResourceExhausted", i + 1);
      // Read again before the status's grace (endGraceMs, 1 s) is over, or the stream is reset.
      s.resume();
      const end = await s.done;
      assert.equal(end.status, Code.ResourceExhausted);
      assert.match(end.message, /^SLUICE_LIMIT_SLOW_CONSUMER: flow\.v1\.FlowService\/Feed: the client is not reading its responses/);
      // The endless upstream stream was cancelled with the call.
      await steady("the upstream's production to stop", produced);
      assert.equal((await collect(gw.clients[p].feed({ count: 3 }))).length, 3);
    });
  });

  test("cancelled streams are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.slowConsumerCancelled, 2);
  });
});

describe("proxy route: overload.maxBufferedBytes counts the responses proxy streams hold", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowProxy("proxy-overload", upstream, {
      overload: { maxBufferedBytes: 1048576 },
      limits: { "flow.v1.FlowService/Feed": { outboundBufferBytes: 512 * 1024 } },
    });
  });
  after(() => gw?.stop());

  test("past it new calls are shed; health answers on new connections; the stalled streams go on", async () => {
    const observer = gw.clients.grpc;
    await observer.count({});
    // Three proxied streams to readers that read for a while (so the gateway
    // trusts them with their whole 512 KiB buffer), then stopped.
    const stalled = [0, 1, 2].map(() => rawServerStream(gw.url, feedPath, feedRequest(0, big), "grpc"));
    await until("the streams flowing", () => stalled.every((s) => s.messages.length >= 40));
    for (const s of stalled) s.pause();
    let shed: ConnectError | undefined;
    await until("shedding for buffered bytes", async () => {
      shed = await observer.count({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
      return shed !== undefined;
    });
    assert.equal(shed!.code, Code.Unavailable);
    assert.match(shed!.rawMessage, /^SLUICE_OVERLOADED: the server is overloaded \(overload\.maxBufferedBytes of responses wait for slow readers\)/);
    try {
      // A liveness probe opens a new connection each time: it is answered
      // while calls are shed (checked on both sides of the probe, as the
      // buffered total can dip under the limit for a moment).
      const isShed = () => observer.count({}).then(() => false, () => true);
      await until("a new connection's /healthz answered while calls are shed", async () =>
        (await isShed()) && (await h1Request(gw.port, { method: "GET", path: "/healthz" }).then((r) => r.status === 200, () => false)) && (await isShed()));
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
    assert.ok((limits.shedBufferedBytes ?? 0) >= 1);
  });
});
