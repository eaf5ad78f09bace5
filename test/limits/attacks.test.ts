// The attacks of issue 9, as tests: raw node:net and node:http2 clients on
// loopback against the real gateway process, each with bounded counts and
// generous timeouts. They assert what happens (closed, refused, statuses,
// counters, memory), never how fast.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { productionNodeFlags } from "../../src/host/node-flags.js";
import { FeedRequestSchema, HoldRequestSchema, HoldResponseSchema } from "../gen/flow/v1/flow_pb.js";
import { pause, startFlowGateway, until, type FlowGateway } from "../support/flow-gateway.js";
import { root } from "../support/gateway.js";
import { connectRaw, ErrorCode, Flag, frame, FrameType, grpcRequest, headers, rstStream } from "../support/h2-frames.js";
import { envelope, h1Request } from "../support/raw-http.js";

const holdPath = "/flow.v1.FlowService/Hold";
const holdBody = (req: Parameters<typeof create<typeof HoldRequestSchema>>[1]) => envelope(toBinary(HoldRequestSchema, create(HoldRequestSchema, req)));

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
}

const MiB = 1024 * 1024;

/** A socket that connected, and whether the server closed it; `from` binds another loopback address. */
function openSocket(port: number, from?: string): Promise<{ socket: net.Socket; closed: () => boolean; data: () => string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", ...(from ? { localAddress: from } : {}) });
    let closed = false;
    let data = "";
    socket.on("error", () => {});
    socket.on("data", (c: Buffer) => (data += c.toString("latin1")));
    socket.once("close", () => (closed = true));
    const done = () => resolve({ socket, closed: () => closed, data: () => data });
    socket.once("connect", done);
    socket.once("close", done);
  });
}

describe("HTTP/1.1: header, body and keep-alive timeouts fire on the sockets the inner server is handed", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("attack-h1", { http1: { headersTimeoutMs: 1000, bodyTimeoutMs: 1000 }, idleTimeoutMs: 1000 });
  });
  after(() => gw?.stop());

  test("slowloris: 30 connections sending their headers a line at a time get 408 and are closed; others are served meanwhile", async () => {
    const sockets = await Promise.all(Array.from({ length: 30 }, () => openSocket(gw.port)));
    const timers = sockets.map((s) => {
      s.socket.write(`POST ${holdPath} HTTP/1.1\r\nHost: localhost\r\n`);
      return setInterval(() => {
        if (!s.closed()) s.socket.write("X-Slow: b\r\n");
      }, 200);
    });
    try {
      await pause(300);
      assert.ok((await gw.clients["grpc-web"].count({})).holdsStarted >= 0n, "a normal call is served during the attack");
      await until("every slowloris connection closed", () => sockets.every((s) => s.closed()), 15_000);
      for (const s of sockets) assert.match(s.data(), /^HTTP\/1\.1 408 Request Timeout/);
    } finally {
      timers.forEach(clearInterval);
      sockets.forEach((s) => s.socket.destroy());
    }
  });

  test("a body shorter than its Content-Length is cut at the body timeout", async () => {
    const s = await openSocket(gw.port);
    // An envelope that announces 95 bytes, of which 5 arrive.
    const partial = Buffer.concat([Buffer.from([0, 0, 0, 0, 95]), Buffer.alloc(5)]);
    s.socket.write(`POST ${holdPath} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: 100\r\n\r\n`);
    s.socket.write(partial);
    await until("the connection closed", () => s.closed(), 10_000);
    assert.equal(s.data(), "", "no answer: the connection is simply closed");
  });

  test("a body that keeps arriving is not cut: the timeout is between bytes", async () => {
    const body = holdBody({ maxMs: 1 });
    const s = await openSocket(gw.port);
    s.socket.write(`POST ${holdPath} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${body.length}\r\n\r\n`);
    // One byte every 300 ms: longer than the 1 s timeout in total, never 1 s apart.
    for (const byte of body) {
      await pause(300);
      s.socket.write(Buffer.from([byte]));
    }
    await until("the answer", () => s.data().includes("grpc-status:"), 10_000);
    assert.match(s.data(), /^HTTP\/1\.1 200/);
    assert.match(s.data(), /grpc-status: ?0/);
    s.socket.destroy();
  });

  test("an idle keep-alive connection is closed after idleTimeoutMs", async () => {
    const s = await openSocket(gw.port);
    s.socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await until("the answer", () => s.data().includes("\r\n\r\n"), 5_000);
    assert.match(s.data(), /^HTTP\/1\.1 200/);
    await until("the server to close the idle connection", () => s.closed(), 10_000);
  });

  test("the timeouts are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.http1HeadersTimeout, 30);
    assert.equal(limits.http1BodyTimeout, 1);
  });
});

describe("connection caps: a flood is capped per address and in total; a normal client is served throughout", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("attack-connections", { connections: { max: 100, maxPerAddress: 60 } });
  });
  after(() => gw?.stop());

  test("floods from two addresses: 60 kept from each at most, 100 in all; existing clients keep working; refusals are logged", async () => {
    const normal = gw.clients.grpc;
    await normal.count({});
    const floodA = await Promise.all(Array.from({ length: 100 }, () => openSocket(gw.port, "127.0.0.2")));
    floodA.forEach((s) => s.socket.write("P"));
    await until("40 refused", () => floodA.filter((s) => s.closed()).length >= 40);
    await pause(200);
    assert.equal(floodA.filter((s) => !s.closed()).length, 60, "60 connections kept from 127.0.0.2");
    assert.ok((await normal.count({})).holdsStarted >= 0n, "the normal client is served");
    const floodB = await Promise.all(Array.from({ length: 100 }, () => openSocket(gw.port, "127.0.0.3")));
    floodB.forEach((s) => s.socket.write("P"));
    await until("61 refused", () => floodB.filter((s) => s.closed()).length >= 61);
    await pause(200);
    // 100 in all: the normal client's connection, 60 from A, 39 from B.
    assert.equal(floodB.filter((s) => !s.closed()).length, 39, "the total cap leaves 39 for 127.0.0.3");
    assert.ok((await normal.count({})).holdsStarted >= 0n, "the normal client is still served on its connection");
    const fresh = await h1Request(gw.port, { method: "GET", path: "/healthz" }).then(() => "served", () => "refused");
    assert.equal(fresh, "refused", "past the total cap a new connection is closed at once");
    [...floodA, ...floodB].forEach((s) => s.socket.destroy());
    await until("a new connection served again", async () => (await h1Request(gw.port, { method: "GET", path: "/healthz" }).then((r) => r.status, () => 0)) === 200);
    await gw.waitForOutput(/SLUICE_CONNECTIONS_REFUSED: refused \d+ new connection\(s\) in the last 10 s: connections\.maxPerAddress \(60\)/);
  });

  test("refused connections are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.equal(limits.connectionRefusedPerAddress, 40);
    assert.ok((limits.connectionRefusedTotal ?? 0) >= 61);
  });
});

/**
 * A bare node:http2 server, the baseline of the memory tests: what a stream
 * costs there is what Node's HTTP/2 itself costs, before any gateway.
 * "hold": every stream gets one 45-byte gRPC message and stays open, as a
 * gateway stream to a reader that never reads; "refuse": every stream gets a
 * Trailers-Only UNAVAILABLE at once, as a shed call.
 */
const bareServerSource = (mode: "hold" | "refuse", maxStreams: number) => `
import http2 from "node:http2";
const server = http2.createServer({ settings: { maxConcurrentStreams: ${maxStreams} } });
server.on("session", (s) => s.on("error", () => {}));
server.on("stream", (stream) => {
  stream.on("error", () => {});
  if (${JSON.stringify(mode)} === "refuse") {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "14", "grpc-message": "overloaded" }, { endStream: true });
    return;
  }
  stream.respond({ ":status": 200, "content-type": "application/grpc" });
  const frame = Buffer.alloc(45);
  frame.writeUInt32BE(40, 1);
  stream.write(frame);
});
server.listen(0, "127.0.0.1", () => process.stdout.write("bare server listening on http://127.0.0.1:" + server.address().port + "\\n"));
`;

/** Starts a bare server; `stop()` kills it. */
async function startBare(mode: "hold" | "refuse", maxStreams: number, nodeFlags: readonly string[] = []): Promise<{ url: string; pid: number; stop(): void }> {
  const bare = spawn(process.execPath, [...nodeFlags, "--input-type=module", "-e", bareServerSource(mode, maxStreams)], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let url = "";
  bare.stdout!.on("data", (c: Buffer) => (url ||= /listening on (\S+)/.exec(c.toString())?.[1] ?? ""));
  await until("the bare server", () => url !== "", 20_000);
  return { url, pid: bare.pid!, stop: () => bare.kill() };
}

/** 20 connections × 1,000 calls that never send their request; resolves with each call's end and the server's peak RSS growth. */
async function idleCalls(url: string, pid: number, path: string): Promise<{ statuses: Map<string, number>; growth: () => number; ended: Promise<unknown>; close(): void }> {
  const rssBefore = rssOf(pid);
  let peak = rssBefore;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // the process is gone
    }
  }, 100);
  const statuses = new Map<string, number>();
  const sessions: http2.ClientHttp2Session[] = [];
  const ended: Promise<void>[] = [];
  for (let c = 0; c < 20; c++) {
    const session = http2.connect(url);
    session.on("error", () => {});
    sessions.push(session);
    for (let i = 0; i < 1000; i++) {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" }, { endStream: false });
      stream.on("error", () => {});
      let status: string | undefined;
      stream.on("response", (h) => (status = h["grpc-status"] as string | undefined));
      stream.on("trailers", (t) => (status = t["grpc-status"] as string | undefined));
      ended.push(new Promise((resolve) => stream.on("close", () => {
        statuses.set(status ?? "none", (statuses.get(status ?? "none") ?? 0) + 1);
        resolve();
      })));
    }
  }
  return {
    statuses,
    growth: () => peak - rssBefore,
    ended: Promise.all(ended),
    close: () => {
      clearInterval(sampler);
      sessions.forEach((s) => s.destroy());
    },
  };
}

describe("20 × 1,000 calls that never send their request", () => {
  let gw: FlowGateway;
  before(async () => {
    gw = await startFlowGateway("attack-idle-calls", {
      http2: { maxConcurrentStreams: 1000 },
      // Only the in-flight cap is under test: on a busy machine the burst may
      // also stall the event loop, and shedding for that would refuse the
      // health check's new connection.
      overload: { maxInFlight: 2000, maxEventLoopDelayMs: 0 },
      firstMessageTimeoutMs: 4000,
    }, { nodeFlags: productionNodeFlags });
  });
  after(() => gw?.stop());

  test("are refused with UNAVAILABLE past overload.maxInFlight, the gateway's RSS grows < 48 MiB more than node:http2's own for them, health answers; the rest end at firstMessageTimeoutMs", async () => {
    // Node's own share: a bare node:http2 server refusing the same 20,000
    // streams. Both run with the production Node flags, as Sluice does in
    // production: the size V8 gives each one's young generation otherwise
    // differed by tens of MiB between two processes on the same load.
    const bare = await startBare("refuse", 1000, productionNodeFlags);
    let bareGrowth: number;
    try {
      const run = await idleCalls(bare.url, bare.pid, holdPath);
      await until("the bare server's refusals", () => (run.statuses.get("14") ?? 0) === 20_000, 60_000);
      bareGrowth = run.growth();
      run.close();
    } finally {
      bare.stop();
    }

    const run = await idleCalls(gw.url, gw.child.pid!, holdPath);
    try {
      await until("every call past the cap refused", () => (run.statuses.get(String(Code.Unavailable)) ?? 0) >= 18_000, 60_000);
      // While 2,000 calls sit in flight: health checks (exempt from shedding) and readiness answer.
      const health = await createClient(Health, createGrpcTransport({ baseUrl: gw.url })).check({ service: "" });
      assert.equal(health.status, 1);
      assert.equal((await h1Request(gw.port, { method: "GET", path: "/readyz" })).status, 200);
      const growth = run.growth();
      const mb = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
      process.stdout.write(`# 20 × 1,000 idle calls: gateway RSS peak +${mb(growth)}, bare node:http2 refusing them all +${mb(bareGrowth)} (Node ${process.versions.node})\n`);
      // Node's own need for such a burst varies with its version (V8's young
      // generation): 118-130 MiB on Node 20, 158-169 MiB on Node 24. What
      // the gateway adds must stay small.
      assert.ok(growth - bareGrowth < 48 * MiB, `the gateway grew ${mb(growth)}, node:http2 alone ${mb(bareGrowth)}`);
      // The calls in flight never sent their message: they end at firstMessageTimeoutMs.
      await Promise.race([run.ended, pause(30_000)]);
      assert.equal(run.statuses.get(String(Code.Unavailable)), 18_000);
      assert.equal(run.statuses.get(String(Code.DeadlineExceeded)), 2_000);
      assert.ok((await gw.clients.grpc.count({})).holdsStarted === 0n, "served again once they ended; no handler ran for them");
    } finally {
      run.close();
    }
  });

  test("they are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.shedInFlight ?? 0) >= 18_000);
    assert.equal(limits.firstMessageTimeout, 2000);
  });
});

describe("500 streams to readers with a zero window", () => {
  test("cost < 16 KiB of gateway memory each beyond what node:http2 itself needs for them, and their handlers are paused", async () => {
    const perStream = async (url: string, pid: number, request: Uint8Array, streamPath: string): Promise<number> => {
      const sessions: http2.ClientHttp2Session[] = [];
      const open = async (n: number) => {
        let responded = 0;
        for (let s = 0; s < n / 100; s++) {
          // 100 streams per connection (the gateway's default stream limit).
          const session = http2.connect(url, { settings: { initialWindowSize: 0 } });
          session.on("error", () => {});
          sessions.push(session);
          for (let i = 0; i < 100; i++) {
            const st = session.request({ ":method": "POST", ":path": streamPath, "content-type": "application/grpc", te: "trailers" });
            st.on("error", () => {});
            st.on("response", () => responded++);
            st.end(request);
          }
        }
        await until("every stream answered", () => responded === n, 30_000);
      };
      const settled = async () => {
        // RSS once it has stopped moving for a second (buffers have filled).
        let last = rssOf(pid);
        let since = performance.now();
        await until("RSS to settle", () => {
          const now = rssOf(pid);
          if (Math.abs(now - last) > 64 * 1024) {
            last = now;
            since = performance.now();
          }
          return performance.now() - since > 1000;
        }, 20_000);
        return last;
      };
      try {
        // The first streams pay for what any load costs once (code, heap sizing): not counted.
        // Then two batches: a one-off step of the heap lands in one of them, the
        // cost of a stream is in both, so the smaller is the cost per stream.
        await open(300);
        const base = await settled();
        await open(600);
        const mid = await settled();
        await open(600);
        return Math.min(mid - base, (await settled()) - mid) / 600;
      } finally {
        sessions.forEach((s) => s.destroy());
      }
    };

    const bare = await startBare("hold", 100);
    let gw: FlowGateway | undefined;
    try {
      const floor = await perStream(bare.url, bare.pid, Buffer.alloc(0), "/");
      gw = await startFlowGateway("attack-zero-window", {});
      const request = envelope(toBinary(FeedRequestSchema, create(FeedRequestSchema, { count: 0, size: 40 })));
      const sluice = await perStream(gw.url, gw.child.pid!, request, "/flow.v1.FlowService/Feed");
      const produced = (await gw.clients.grpc.count({})).produced;
      await pause(1000);
      assert.equal((await gw.clients.grpc.count({})).produced, produced, "no handler produced anything more: all paused");
      const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
      process.stdout.write(`# zero-window streams: gateway ${kib(sluice)} per stream, bare node:http2 ${kib(floor)}, Sluice's own ${kib(sluice - floor)}; ${produced} messages produced for 1500 streams (Node ${process.versions.node})\n`);
      assert.ok(sluice - floor < 16 * 1024, `gateway memory per stream: ${kib(sluice)}, of which node:http2 itself ${kib(floor)}`);
      // A reader that has never read gets the first budget (1 KiB), not the whole buffer: two messages each.
      assert.ok(produced <= 1500n * 4n, `${produced} messages for 1500 streams`);
    } finally {
      bare.stop();
      await gw?.stop();
    }
  });
});

describe("HTTP/2: Rapid Reset, header checks, stream limit, keepalive", () => {
  let gw: FlowGateway;
  before(async () => {
    // Keepalive every second: short enough for the PING test, long enough
    // that a test client on a loaded machine answers in time (a missed PING
    // closes the connection with NO_ERROR, which the reset-budget test would
    // take for the wrong GOAWAY).
    gw = await startFlowGateway("attack-h2", { http2: { keepAliveMs: 1000 } });
  });
  after(() => gw?.stop());

  const holdsStarted = async () => (await gw.clients.grpc.count({})).holdsStarted;

  test("Rapid Reset: the offender is disconnected, no more handlers run than its stream limit, others are served", async () => {
    const before0 = await holdsStarted();
    const raw = await connectRaw(gw.port);
    await until("SETTINGS exchanged", () => raw.frames.some((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0));
    const body = holdBody({ key: "rapid", maxMs: 4000, ignoreSignal: true });
    let sent = 0;
    // HEADERS, DATA, RST_STREAM, over and over, as fast as the socket takes
    // them; at most 20,000 streams.
    while (!raw.isClosed() && sent < 20_000) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        const id = 1 + 2 * sent++;
        batch.push(headers(id, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, id, body), rstStream(id, ErrorCode.CANCEL));
      }
      if (!raw.send(Buffer.concat(batch))) await raw.writable();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.race([raw.closed, pause(10_000)]);
    // Closed by the gateway's reset budget (GOAWAY ENHANCE_YOUR_CALM, then
    // FIN; the next test holds it to that) when the resets reach JavaScript,
    // or by nghttp2's own reset limit (GOAWAY INTERNAL_ERROR, often lost in
    // the connection's reset): on Node 24 a stream reset in the same read as
    // its HEADERS never reaches JavaScript.
    assert.ok(raw.isClosed(), `the connection was closed (${sent} streams sent)`);
    const handlers = (await holdsStarted()) - before0;
    assert.ok(handlers <= 100n, `${handlers} handlers ran (stream limit 100)`);
    // Another connection is served.
    assert.ok((await gw.clients["grpc-web"].count({})).holdsStarted >= before0);
  });

  test("a client that resets its calls and keeps opening streams spends the reset budget: REFUSED_STREAM, then GOAWAY ENHANCE_YOUR_CALM, and it is disconnected", async () => {
    const before0 = await holdsStarted();
    // It answers the keepalive PINGs (every second here), so that only the reset budget can end its connection.
    const raw = await connectRaw(gw.port, { ackPings: true });
    await until("SETTINGS exchanged", () => raw.frames.some((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0));
    // 100 calls whose handlers keep running (and their slots) after the client
    // resets them, until this test releases them: a timer (3 s before) could
    // free the slots while a loaded machine was still sending the batches
    // below, and the streams were then served instead of refused.
    const hold = holdBody({ key: "budget", maxMs: 60_000, ignoreSignal: true });
    const opened: Buffer[] = [];
    for (let i = 0; i < 100; i++) opened.push(headers(1 + 2 * i, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, 1 + 2 * i, hold));
    raw.send(Buffer.concat(opened));
    await until("100 handlers running", async () => (await holdsStarted()) - before0 === 100n);
    raw.send(Buffer.concat(Array.from({ length: 100 }, (_, i) => rstStream(1 + 2 * i, ErrorCode.CANCEL))));
    // ...then new streams, 50 at a time, each batch once the last was answered.
    const answered = () => new Set(raw.frames.filter((f) => f.stream > 200 && (f.type === FrameType.RST_STREAM || f.type === FrameType.HEADERS)).map((f) => f.stream)).size;
    try {
      let next = 100;
      while (!raw.isClosed() && next < 1100) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 50; i++, next++) batch.push(headers(1 + 2 * next, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, 1 + 2 * next, holdBody({ maxMs: 1 })));
        raw.send(Buffer.concat(batch));
        // Answered in any way (a reset of any code, or response headers), so
        // that a stream the gateway did not refuse fails the assertions below
        // with the codes it got, rather than this wait.
        await until("the batch answered", () => raw.isClosed() || answered() >= next - 100, 10_000);
      }
      await Promise.race([raw.closed, pause(10_000)]);
      assert.ok(raw.isClosed());
      assert.equal(raw.goaway(), ErrorCode.ENHANCE_YOUR_CALM);
      // How many of the gateway's resets carried each code.
      const codes = new Map<number, number>();
      for (const c of raw.resets().values()) codes.set(c, (codes.get(c) ?? 0) + 1);
      const seen = `reset codes seen: ${JSON.stringify(Object.fromEntries(codes))}`;
      // The budget is 400: 100 went on the resets, the rest on refusals (plus what refilled meanwhile).
      const refused = codes.get(ErrorCode.REFUSED_STREAM) ?? 0;
      assert.ok(refused >= 250 && refused <= 450, `${refused} streams refused before GOAWAY; ${seen}`);
      // The streams of the batch that spent the budget may be reset with
      // ENHANCE_YOUR_CALM, as the connection goes away, instead of refused.
      const calmed = codes.get(ErrorCode.ENHANCE_YOUR_CALM) ?? 0;
      assert.ok(calmed <= 50, `${calmed} streams reset with ENHANCE_YOUR_CALM: more than the last batch; ${seen}`);
      assert.equal(answered(), refused + calmed, `every new stream refused, or reset as the connection went; ${seen}`);
      await gw.waitForOutput(/SLUICE_HTTP2_RESET_FLOOD: closed the HTTP\/2 connection from 127\.0\.0\.1/);
      assert.equal(await holdsStarted(), before0 + 100n, "no handler ran for a refused stream");
    } finally {
      await gw.clients.grpc.release({ key: "budget" });
    }
  });

  test("a header block over maxHeaderBytes is refused before SETTINGS are acknowledged, and after; no handler runs", async () => {
    const before0 = await holdsStarted();
    for (const ackSettings of [false, true]) {
      const raw = await connectRaw(gw.port, { ackSettings });
      raw.send(Buffer.concat([headers(1, grpcRequest(holdPath, [["x-big", "a".repeat(60_000)]])), frame(FrameType.DATA, Flag.END_STREAM, 1, holdBody({ maxMs: 1 }))]));
      await until("an answer on stream 1", () => raw.frames.some((f) => f.stream === 1 && (f.type === FrameType.RST_STREAM || (f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0))) || raw.isClosed());
      assert.ok(!raw.frames.some((f) => f.stream === 1 && f.type === FrameType.DATA), `ack ${ackSettings}: no response body, so no call was served`);
      raw.destroy();
    }
    assert.equal(await holdsStarted(), before0);
  });

  test("CR, LF or NUL in a header value never reaches a handler", async () => {
    // HTTP/1.1: Node's parser answers 400.
    for (const value of ["a\0b", "a\nb", "a\rb"]) {
      const s = await openSocket(gw.port);
      s.socket.write(`POST ${holdPath} HTTP/1.1\r\nHost: localhost\r\nX-Probe: ${value}\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: 0\r\n\r\n`);
      await until("the answer", () => s.data().length > 0 || s.closed(), 5_000);
      assert.match(s.data(), /^HTTP\/1\.1 400/);
      s.socket.destroy();
    }
    // HTTP/2, in a pseudo-header: the stream is reset with PROTOCOL_ERROR.
    const pseudo = await connectRaw(gw.port);
    pseudo.send(headers(1, grpcRequest(`${holdPath}\r\nx`), true));
    await until("a reset", () => pseudo.resets().has(1));
    assert.equal(pseudo.resets().get(1), ErrorCode.PROTOCOL_ERROR);
    pseudo.destroy();
    // HTTP/2, in a field: nghttp2 drops the field before the gateway sees the
    // request; the handler, which echoes x-probe, never sees it.
    const field = await connectRaw(gw.port);
    const ask = (id: number, value: string) => field.send(Buffer.concat([headers(id, grpcRequest(holdPath, [["x-probe", value]])), frame(FrameType.DATA, Flag.END_STREAM, id, holdBody({ maxMs: 1 }))]));
    ask(1, "plain");
    ask(3, "a\r\nb");
    ask(5, "a\0b");
    await until("three answers", () => [1, 3, 5].every((id) => field.frames.some((f) => f.stream === id && f.type === FrameType.DATA)));
    const seen = (id: number) => fromBinary(HoldResponseSchema, field.frames.find((f) => f.stream === id && f.type === FrameType.DATA)!.payload.subarray(5)).probeHeader;
    assert.equal(seen(1), "plain", "the echo works");
    assert.equal(seen(3), "");
    assert.equal(seen(5), "");
    field.destroy();
  });

  test("streams past the limit get REFUSED_STREAM: before SETTINGS are acknowledged, and while handlers of reset streams still run", async () => {
    // A burst before the client has acknowledged SETTINGS (nghttp2 refuses).
    const early = await connectRaw(gw.port, { ackSettings: false });
    const burst: Buffer[] = [];
    for (let i = 0; i < 105; i++) burst.push(headers(1 + 2 * i, grpcRequest(holdPath)));
    early.send(Buffer.concat(burst));
    await until("five refusals", () => [...early.resets().values()].filter((c) => c === ErrorCode.REFUSED_STREAM).length === 5);
    early.destroy();

    // 100 calls whose handlers keep running after the client resets them hold
    // their slots; the 101st stream is refused, the connection stays up.
    const before0 = await holdsStarted();
    const raw = await connectRaw(gw.port);
    await until("SETTINGS exchanged", () => raw.frames.some((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0));
    const body = holdBody({ key: "slots", maxMs: 3000, ignoreSignal: true });
    const opened: Buffer[] = [];
    for (let i = 0; i < 100; i++) opened.push(headers(1 + 2 * i, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, 1 + 2 * i, body));
    raw.send(Buffer.concat(opened));
    await until("100 handlers running", async () => (await holdsStarted()) - before0 === 100n);
    raw.send(Buffer.concat(Array.from({ length: 100 }, (_, i) => rstStream(1 + 2 * i, ErrorCode.CANCEL))));
    await pause(200);
    raw.send(Buffer.concat([headers(201, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, 201, holdBody({ maxMs: 1 }))]));
    await until("stream 201 answered", () => raw.resets().has(201));
    assert.equal(raw.resets().get(201), ErrorCode.REFUSED_STREAM);
    assert.equal(await holdsStarted(), before0 + 100n, "no handler ran for the refused stream");
    assert.equal(raw.goaway(), undefined, "the connection stays up");
    raw.destroy();
  });

  test("a peer that stops answering PINGs is disconnected; one that answers keeps its call", async () => {
    const raw = await connectRaw(gw.port);
    raw.send(Buffer.concat([headers(1, grpcRequest(holdPath)), frame(FrameType.DATA, Flag.END_STREAM, 1, holdBody({ maxMs: 20_000 }))]));
    await Promise.race([raw.closed, pause(15_000)]);
    assert.ok(raw.frames.some((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) === 0), "the gateway sent a PING");
    assert.ok(raw.isClosed(), "and closed the connection when it went unanswered");
    // Node's client answers PINGs: its call outlives several keepalive intervals.
    const answered = await gw.client("grpc").flow.hold({ maxMs: 3500 });
    assert.ok(answered.invocation > 0n);
  });

  test("refusals, floods and dead peers are counted", async () => {
    const { limits } = await gw.stopAndCount();
    assert.ok((limits.http2ResetFlood ?? 0) >= 1);
    assert.ok((limits.http2HeaderTooLarge ?? 0) >= 1);
    assert.ok((limits.http2RefusedStream ?? 0) >= 1);
    assert.ok((limits.http2PingTimeout ?? 0) >= 1);
  });
});
