// Proxy routes in front of an upstream that answers badly: a message that
// is not the method's output type (to a JSON client, which needs it
// decoded), a Trailers-Only status with metadata, retry pushback in each
// upstream protocol's own place, a 200 that is not gRPC at all, and an
// address that accepts TCP and never answers while calls wait for it.
// The upstream is a raw node:http2 server in this process, whose answer the
// request's x-mode header chooses; the gateway is a real `sluice start`.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope, h1Request, h2Request, parseEnvelopes } from "../support/raw-http.js";

const unaryPath = "/probe.v1.ProbeService/Unary";
const serverStreamPath = "/probe.v1.ProbeService/ServerStream";
/** Routes to the upstream that never answers, and to the gRPC-Web and Connect upstreams. */
const silentPath = "/flow.v1.FlowService/Hold";
const webPath = "/flow.v1.FlowService/Release";
const connectPath = "/flow.v1.FlowService/Count";
/** An empty message: a valid request and response of every method here. */
const emptyMessage = envelope(Buffer.alloc(0));

/** Requests seen by the raw upstream, per x-mode. */
const attempts = new Map<string, number>();

function rawUpstream(): http2.Http2Server {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const mode = String(headers["x-mode"] ?? "ok");
    attempts.set(mode, (attempts.get(mode) ?? 0) + 1);
    stream.on("error", () => {});
    stream.resume();
    const type = String(headers["content-type"]);
    const pushback = String(headers["x-pushback"] ?? "0");
    stream.on("end", () => {
      if (type.startsWith("application/grpc-web")) {
        if (mode === "pushback") {
          stream.respond({ ":status": 200, "content-type": "application/grpc-web+proto" });
          stream.end(envelope(Buffer.from(`grpc-status: 14\r\ngrpc-message: later\r\ngrpc-retry-pushback-ms: ${pushback}\r\n`), 0x80));
        }
        return;
      }
      if (type === "application/proto") {
        // Connect unary: the pushback in a trailer- header of the error.
        stream.respond({ ":status": 503, "content-type": "application/json", "trailer-grpc-retry-pushback-ms": pushback });
        stream.end(JSON.stringify({ code: "unavailable", message: "later" }));
        return;
      }
      switch (mode) {
        case "ok":
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.end(emptyMessage);
          return;
        case "not-the-output-type":
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.end(envelope(Buffer.from([0xff, 0xff, 0xff])));
          return;
        case "trailers-only":
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "not%20here", "x-meta": "m1", "x-meta-bin": Buffer.from([1, 2, 3]).toString("base64") }, { endStream: true });
          return;
        case "html":
          stream.respond({ ":status": 200, "content-type": "text/html" });
          stream.end("<html><body>Welcome to nginx!</body></html>");
          return;
      }
    });
  });
  return server;
}

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe("proxy routes in front of an upstream that answers badly", () => {
  const upstream = rawUpstream();
  // Accepts TCP and never says a word: the HTTP/2 session never starts.
  const blackhole = net.createServer(() => {});
  const dir = path.join(root, "test/.tmp", `misbehaving-upstream-${process.pid}`);
  let gw: RunningGateway;
  before(async () => {
    const url = await listen(upstream);
    const silent = await listen(blackhole);
    const retry = { maxAttempts: 3, retryableCodes: ["unavailable"], initialBackoffMs: 10, maxBackoffMs: 20 };
    mkdirSync(path.join(dir, "functions"), { recursive: true });
    writeFileSync(path.join(dir, "sluice.config.json"), JSON.stringify({
      protoGenDir: path.join(root, "test/gen"),
      upstreams: {
        grpc: { url },
        web: { url, protocol: "grpc-web", retry },
        connect: { url, protocol: "connect", retry },
        silent: { url: silent, connectTimeoutMs: 20_000, maxQueued: 3, queueTimeoutMs: 20_000 },
      },
      routes: {
        "probe.v1.ProbeService": { upstream: "grpc" },
        [silentPath.slice(1)]: { upstream: "silent" },
        [webPath.slice(1)]: { upstream: "web" },
        [connectPath.slice(1)]: { upstream: "connect" },
      },
    }));
    gw = await startGateway({ functionsDir: path.join(dir, "functions"), args: ["--config", path.join(dir, "sluice.config.json")] });
  });
  after(async () => {
    await gw?.stop();
    upstream.close();
    blackhole.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a message that is not the method's output type, to a JSON client: INTERNAL naming the type, and the gateway stays up", async () => {
    const unary = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json", "x-mode": "not-the-output-type" }, body: "{}" });
    assert.equal(unary.status, 500, unary.body.toString());
    const error = JSON.parse(unary.body.toString()) as { code: string; message: string };
    assert.equal(error.code, "internal");
    assert.match(error.message, /the upstream's response is not a valid probe\.v1\.ProbeResponse/);

    // Server streaming, Connect JSON: the end-of-stream message carries the error, not OK.
    const stream = await h1Request(gw.port, { path: serverStreamPath, headers: { "content-type": "application/connect+json", "x-mode": "not-the-output-type" }, body: envelope(Buffer.from("{}")) });
    const frames = parseEnvelopes(stream.body);
    const end = JSON.parse(frames.at(-1)!.data.toString()) as { error?: { code: string; message: string } };
    assert.equal(frames.at(-1)!.flags & 0x02, 0x02);
    assert.equal(end.error?.code, "internal", stream.body.toString());
    assert.match(end.error?.message ?? "", /not a valid probe\.v1\.ProbeResponse/);

    const ok = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.doesNotMatch(gw.output(), /uncaught exception/);
  });

  test("Trailers-Only: the upstream's metadata reaches a gRPC client as trailers, and a gRPC-Web client in its trailer frame", async () => {
    const grpc = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc", te: "trailers", "x-mode": "trailers-only" }, body: emptyMessage });
    const status = grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"];
    assert.equal(status, String(Code.NotFound));
    const inTrailers = grpc.trailers["grpc-status"] !== undefined ? grpc.trailers : grpc.headers;
    assert.equal(inTrailers["x-meta"], "m1");
    assert.equal(inTrailers["x-meta-bin"], "AQID");
    if (grpc.trailers["grpc-status"] !== undefined) assert.equal(grpc.headers["x-meta"], undefined, "not in the response headers");

    const web = await h1Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc-web+proto", "x-mode": "trailers-only" }, body: emptyMessage });
    assert.equal(web.headers["x-meta"], undefined, "not in the HTTP headers");
    const trailer = parseEnvelopes(web.body).find((f) => (f.flags & 0x80) !== 0)!.data.toString();
    assert.match(trailer, /grpc-status: 5\r\n/);
    assert.match(trailer, /x-meta: m1\r\n/);
  });

  test("a 200 that is not a gRPC response (a load balancer's page): UNKNOWN naming its content type", async () => {
    const res = await h2Request(gw.port, { path: unaryPath, headers: { "content-type": "application/grpc", te: "trailers", "x-mode": "html" }, body: emptyMessage });
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.Unknown));
    assert.match(decodeURIComponent(String(res.trailers["grpc-message"] ?? res.headers["grpc-message"])), /HTTP 200 with content-type "text\/html", not a gRPC response/);
  });

  for (const [name, rpcPath] of [["gRPC-Web", webPath], ["Connect", connectPath]] as const) {
    test(`grpc-retry-pushback-ms from a ${name} upstream, on a unary call: a value that is not a number stops the retries; 0 lets them go on`, async () => {
      const tried = async (pushback: string) => {
        const before = attempts.get("pushback") ?? 0;
        const res = await h2Request(gw.port, { path: rpcPath, headers: { "content-type": "application/grpc", te: "trailers", "x-mode": "pushback", "x-pushback": pushback }, body: emptyMessage });
        assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.Unavailable));
        return (attempts.get("pushback") ?? 0) - before;
      };
      assert.equal(await tried("stop"), 1);
      assert.equal(await tried("0"), 3, "retried up to retry.maxAttempts");
    });
  }

  test("a call cancelled while it waits for a stream to the upstream leaves the upstream's queue at once", async () => {
    // Three calls wait for a connection that never comes, and their clients cancel them.
    const session = http2.connect(gw.url);
    for (let i = 0; i < 3; i++) {
      const s = session.request({ ":method": "POST", ":path": silentPath, "content-type": "application/grpc", te: "trailers" });
      s.on("error", () => {});
      s.write(emptyMessage);
      setTimeout(() => s.close(http2.constants.NGHTTP2_CANCEL), 100);
    }
    await new Promise((r) => setTimeout(r, 400));
    session.close();
    // The queue holds 3: a fourth call waits too (until its deadline), rather than being refused as full.
    const res = await h2Request(gw.port, { path: silentPath, headers: { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "500m" }, body: emptyMessage });
    const message = decodeURIComponent(String(res.trailers["grpc-message"] ?? res.headers["grpc-message"]));
    assert.doesNotMatch(message, /SLUICE_UPSTREAM_QUEUE_FULL/);
    assert.equal(res.trailers["grpc-status"] ?? res.headers["grpc-status"], String(Code.DeadlineExceeded), message);
  });
});
