// A call the gateway ends with an error (slowConsumer "cancel", a deadline)
// while its client has stopped reading: the status cannot reach that client
// behind the responses it does not read, so the gateway gives it a moment
// and then resets the stream (HTTP/2 RST_STREAM CANCEL) or the connection
// (HTTP/1.1). Until the transport has let go of those responses, their
// bytes stay in sluice_buffered_response_bytes, which overload.maxBufferedBytes
// compares. Raw node:http2 and node:http clients play the reader that stops;
// a Connect-ES client on its own connection checks that others are served.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { FeedRequestSchema } from "../gen/flow/v1/flow_pb.js";
import { adminUrl, scrape, value, type Sample } from "../support/admin.js";
import { collect } from "../support/call-outcome.js";
import { startFlowGateway, until, type FlowGateway, type FlowProtocol } from "../support/flow-gateway.js";
import { envelope } from "../support/raw-http.js";

const feedPath = "/flow.v1.FlowService/Feed";
/** Endless, in large messages: the stream's buffer is full as soon as its reader stops. */
const feedForever = envelope(toBinary(FeedRequestSchema, create(FeedRequestSchema, { count: 0, size: 16 * 1024 })));
const streams = 6;
/** slowConsumerMs, plus the grace the status gets, plus room for a loaded machine. */
const closedWithinMs = 6_000;

/** How a stalled stream's client saw it end. */
interface Outcome {
  /** HTTP/2: the RST_STREAM code the gateway sent (0 when the stream ended normally). */
  rstCode?: number;
  /** HTTP/1.1: the connection failed (reset) rather than ending. */
  error?: string;
  /** grpc-status, if the client got one. */
  status?: string;
}

/** One Feed stream whose client does not read. */
interface Stalled {
  /** True once the client has seen the stream closed (HTTP/2; a paused HTTP/1.1 client cannot see it). */
  closed: boolean;
  /** Reads again; resolves once the client sees the end. */
  resume(): Promise<Outcome>;
}

/** `n` Feed streams on one HTTP/2 connection, each paused before its first byte. */
function stalledH2(url: string, n: number, headers: Record<string, string>): { all: Stalled[]; close(): void } {
  const session = http2.connect(url);
  session.on("error", () => {});
  const all = Array.from({ length: n }, (): Stalled => {
    const stream = session.request({ ":method": "POST", ":path": feedPath, "content-type": "application/grpc", te: "trailers", ...headers });
    let status: string | undefined;
    stream.pause();
    stream.on("error", () => {});
    stream.on("trailers", (t) => (status = String(t["grpc-status"])));
    const ended = new Promise<Outcome>((resolve) => stream.on("close", () => resolve({ rstCode: stream.rstCode, ...(status !== undefined ? { status } : {}) })));
    const s: Stalled = {
      closed: false,
      resume: () => {
        stream.resume();
        return ended;
      },
    };
    void ended.then(() => (s.closed = true));
    stream.end(feedForever);
    return s;
  });
  return { all, close: () => session.destroy() };
}

/** `n` Feed streams over gRPC-Web on HTTP/1.1, one connection each, each paused as its response starts. */
function stalledH1(url: string, n: number, headers: Record<string, string>): { all: Stalled[]; close(): void } {
  const { hostname, port } = new URL(url);
  const reqs: http.ClientRequest[] = [];
  const all = Array.from({ length: n }, (): Stalled => {
    const req = http.request({ host: hostname, port, method: "POST", path: feedPath, agent: false, headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers } });
    reqs.push(req);
    let res: http.IncomingMessage | undefined;
    let error: string | undefined;
    let tail = Buffer.alloc(0);
    req.on("response", (r) => {
      res = r;
      r.pause();
      // The last bytes are enough to find a trailer frame (grpc-status), if one came.
      r.on("data", (c: Buffer) => (tail = Buffer.concat([tail, c]).subarray(-512)));
      r.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
      r.on("aborted", () => (error ??= "aborted"));
    });
    req.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    const ended = new Promise<Outcome>((resolve) =>
      req.on("close", () => {
        const status = /grpc-status:\s*(\d+)/.exec(tail.toString("latin1"))?.[1];
        resolve({ ...(error !== undefined ? { error } : {}), ...(status !== undefined ? { status } : {}) });
      }));
    req.end(feedForever);
    return {
      closed: false,
      resume: () => {
        res?.resume();
        return ended;
      },
    };
  });
  return { all, close: () => reqs.forEach((r) => r.destroy()) };
}

describe("a call ended with an error while its client is not reading", () => {
  let gw: FlowGateway;
  let admin: string;
  before(async () => {
    gw = await startFlowGateway("stalled-reader-end", { limits: { "flow.v1.FlowService/Feed": { slowConsumer: "cancel", slowConsumerMs: 300 } } }, { args: ["--set", "admin.port=0"] });
    admin = adminUrl(gw);
  });
  after(() => gw?.stop());

  const ended = (samples: Sample[], protocol: FlowProtocol, code: string) =>
    value(samples, "grpc_server_handled_total", { grpc_service: "flow.v1.FlowService", grpc_method: "Feed", protocol, grpc_code: code });
  const buffered = (samples: Sample[]) => value(samples, "sluice_buffered_response_bytes");
  const connections = (samples: Sample[]) => value(samples, "sluice_connections_open");

  const cases: { why: string; headers: Record<string, string>; code: string }[] = [
    { why: 'slowConsumer "cancel"', headers: {}, code: "ResourceExhausted" },
    // 100 ms: the deadline comes before slowConsumerMs.
    { why: "its deadline", headers: { "grpc-timeout": "100m" }, code: "DeadlineExceeded" },
  ];
  for (const p of ["grpc", "grpc-web"] as const) {
    for (const c of cases) {
      test(`ended by ${c.why}, on ${p}: the gateway closes every stream within a bounded time, counting its bytes until then; others are served`, async () => {
        // The connections of the test before may still be closing.
        let first: Sample[] = [];
        let baseConnections = -1;
        await until("the gateway at rest", async () => {
          first = await scrape(admin);
          const settled = buffered(first) === 0 && connections(first) === baseConnections;
          baseConnections = connections(first);
          return settled;
        }, 3_000);
        const before = ended(first, p, c.code);
        const opened = performance.now();
        const { all, close } = p === "grpc" ? stalledH2(gw.url, streams, c.headers) : stalledH1(gw.url, streams, c.headers);
        const open = () => all.filter((s) => !s.closed).length;
        try {
          // The calls end (the gateway logs and counts them) while their streams are still open.
          let atEnd: Sample[] = [];
          await until(`${streams} Feed calls ended with ${c.code}`, async () => {
            atEnd = await scrape(admin);
            return ended(atEnd, p, c.code) === before + streams;
          }, closedWithinMs);
          assert.equal(open(), streams, "no stream closed yet: the status gets a moment to be read");
          if (p === "grpc-web") assert.ok(connections(atEnd) >= baseConnections + streams, "every stalled connection still open");
          assert.ok(buffered(atEnd) > 0, "the responses the transport still holds are counted after the calls ended");

          // Another client is served meanwhile, on its own connection.
          assert.equal((await collect(gw.clients[p].feed({ count: 3 }))).length, 3);

          // Then the gateway lets go of them, although their clients still do not read.
          let last: Sample[] = [];
          let countedWhileOpen = true;
          const allClosed = p === "grpc"
            ? async () => {
              const openBefore = open();
              last = await scrape(admin);
              // Counted while every stream is open; judged only on scrapes no close overlapped,
              // since the client sees a reset a moment after the gateway has let go.
              if (openBefore === streams && open() === streams && buffered(last) === 0) countedWhileOpen = false;
              return open() === 0;
            }
            // A paused HTTP/1.1 client does not read its socket, so it cannot see it close: the gateway's count of connections can.
            : async () => connections((last = await scrape(admin))) <= baseConnections;
          try {
            await until("every stalled stream closed by the gateway", allClosed, closedWithinMs - (performance.now() - opened));
          } catch (e) {
            assert.fail(`${Math.round(performance.now() - opened)} ms after they started, ${p === "grpc" ? `${open()} of ${streams} streams are open` : `${connections(last) - baseConnections} more connections than before are open`} (buffered bytes: ${buffered(last)}): ${(e as Error).message}`);
          }
          assert.ok(countedWhileOpen, "the bytes stayed counted while every stream was open");
          await until("the buffered bytes given back", async () => buffered(await scrape(admin)) === 0, 2_000);

          // A client that reads again finds its stream reset, without a status.
          const outcomes = await Promise.race([
            Promise.all(all.map((s) => s.resume())),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error("a client that read again did not see its stream end")), 3_000)),
          ]);
          for (const o of outcomes) {
            if (p === "grpc") assert.deepEqual(o, { rstCode: http2.constants.NGHTTP2_CANCEL });
            else assert.ok(o.error !== undefined && o.status === undefined, `the connection was reset: ${JSON.stringify(o)}`);
          }
          assert.equal((await collect(gw.clients[p].feed({ count: 3 }))).length, 3, "served after");
        } finally {
          close();
        }
      });
    }
  }
});
