// gRPC-Web over WebSocket (sub-protocol grpc-websockets) against the real
// gateway, from Node: Sluice's own Connect-ES transport (sluice/web-transport)
// on the `ws` package for every stream kind and error path, and raw `ws`
// for the wire: the header frame, request bytes split any way across
// messages, close codes, the handshake and Origin checks, flow control both
// ways, keepalive and drain. The examples' chat shows the slow-consumer
// treatment of a client that stops reading.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { ChatEventSchema, ChatRequestSchema } from "../../proto/gen/chat/v1/chat_pb.js";
import { ProbeDetailSchema, ProbeRequestSchema, ProbeResponseSchema, ProbeService, ProbeSummarySchema } from "../gen/probe/v1/probe_pb.js";
import { createWebSocketTransport } from "../../src/web/web-transport.js";
import { from } from "../support/clients.js";
import { floodRoom } from "../support/chat-flood.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { NodeWebSocket, RawWsCall } from "../support/grpc-websocket.js";
import { envelope } from "../support/raw-http.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";
import { failure } from "../support/call-outcome.js";

const allowedOrigin = "https://app.example";
const grpcWebHeaders = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };

function probeFrame(req: Parameters<typeof create<typeof ProbeRequestSchema>>[1]): Buffer {
  return envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)));
}

function wsUrl(gw: RunningGateway, rpc: string): string {
  return `${gw.url.replace(/^http/, "ws")}${rpc}`;
}

describe("gRPC-Web over WebSocket", () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ args: ["--set", `cors.origins=${allowedOrigin}`, "--set", "readMaxBytes=1048576"] });
  });
  after(async () => {
    assert.equal(await gw.stop(), 0, gw.output());
  });

  test("the four stream kinds through sluice/web-transport, bidi full duplex on HTTP/1.1", async () => {
    const probe = createClient(ProbeService, createWebSocketTransport({ baseUrl: gw.url, webSocket: NodeWebSocket }));
    let trailer: Headers | undefined;
    let header: Headers | undefined;
    const res = await probe.unary({ text: "hi" }, { headers: { "x-probe": "ws" }, timeoutMs: 5_000, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
    assert.equal(res.text, "hi");
    assert.equal(res.headers["x-probe"], "ws");
    assert.equal(res.headers["content-type"], "application/grpc-web+proto");
    assert.ok(Number.parseInt(res.headers["grpc-timeout"] ?? "", 10) > 0);
    assert.equal(header?.get("x-probe-version"), "v1");
    assert.equal(trailer?.get("x-probe-trailer"), "done");

    const seqs: bigint[] = [];
    for await (const m of probe.serverStream({ count: 3 })) seqs.push(m.sequence);
    assert.deepEqual(seqs, [1n, 2n, 3n]);

    const summary = await probe.clientStream(from([{ text: "a", payload: new Uint8Array(3) }, { text: "b" }]));
    assert.deepEqual([summary.count, summary.bytes, summary.texts], [2n, 3n, ["a", "b"]]);

    // Each message is sent only after the echo of the one before has arrived:
    // this only finishes if both directions are open at once.
    let gotEcho: (() => void) | undefined;
    async function* pingPong() {
      for (const text of ["one", "two", "three"]) {
        const echoed = new Promise<void>((r) => (gotEcho = r));
        yield { text };
        await echoed;
      }
    }
    const echoes: string[] = [];
    for await (const m of probe.bidi(pingPong())) {
      echoes.push(m.text);
      gotEcho?.();
    }
    assert.deepEqual(echoes, ["one", "two", "three"]);
  });

  test("errors with details, deadlines, message size, cancellation", async () => {
    const probe = createClient(ProbeService, createWebSocketTransport({ baseUrl: gw.url, webSocket: NodeWebSocket }));
    const err = await failure(probe.unary({ fail: { code: Code.FailedPrecondition, message: "nope: 100%", withDetail: true, metadata: { "x-why": "because" } } }));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.rawMessage, "nope: 100%");
    assert.equal(err.metadata.get("x-why"), "because");
    assert.deepEqual(err.findDetails(ProbeDetailSchema).map((d) => d.reason), ["asked for"]);

    const late = await failure(probe.unary({ sleepMs: 10_000 }, { timeoutMs: 200 }));
    assert.equal(late.code, Code.DeadlineExceeded);
    // The gateway enforces the deadline itself (grpc-timeout from the header block).
    const raw = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"));
    await raw.opened();
    raw.headers({ ...grpcWebHeaders, "grpc-timeout": "150m" });
    raw.data(probeFrame({ sleepMs: 10_000 }));
    raw.end();
    const timedOut = await raw.outcome();
    assert.equal(timedOut.trailer?.["grpc-status"], String(Code.DeadlineExceeded));
    assert.equal(timedOut.closeCode, 1000);

    const big = await failure(probe.unary({ payload: new Uint8Array(2 * 1024 * 1024) }));
    assert.equal(big.code, Code.ResourceExhausted);
    assert.match(big.rawMessage, /larger than configured readMaxBytes 1048576/);

    // Cancelling a stream closes its WebSocket; the gateway ends the call as CANCELLED.
    const abort = new AbortController();
    let requestId: string | null = null;
    const seen: bigint[] = [];
    await failure((async () => {
      for await (const m of probe.serverStream({ count: 0, sleepMs: 20 }, { signal: abort.signal, headers: { "x-request-id": "ws-cancel-1" }, onHeader: (h) => (requestId = h.get("x-request-id")) })) {
        seen.push(m.sequence);
        if (seen.length === 2) abort.abort();
      }
    })());
    assert.equal(requestId, "ws-cancel-1");
    await gw.waitForOutput(/"reqId":"ws-cancel-1","rpc":"\/probe\.v1\.ProbeService\/ServerStream","code":"Canceled"/);
  });

  test("wire: header frame first, request frames split and joined across messages, trailer, close 1000", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Bidi"));
    await call.opened();
    call.headers({ ...grpcWebHeaders, "x-probe": "raw" });
    const a = probeFrame({ text: "a" });
    const b = probeFrame({ text: "b" });
    const c = probeFrame({ text: "c" });
    // One frame over three messages, then two frames in one message.
    call.data(a.subarray(0, 2));
    call.data(a.subarray(2, 6));
    call.data(a.subarray(6));
    call.data(Buffer.concat([b, c]));
    call.end();
    const out = await call.outcome();
    assert.equal(out.header["content-type"], "application/grpc-web+proto");
    assert.match(out.header["x-request-id"] ?? "", /./);
    assert.deepEqual(out.messages.map((m) => fromBinary(ProbeResponseSchema, m).text), ["a", "b", "c"]);
    assert.equal(fromBinary(ProbeResponseSchema, out.messages[0]!).headers["x-probe"], "raw");
    assert.deepEqual(out.trailer, { "grpc-status": "0" });
    assert.equal(out.closeCode, 1000);
  });

  test("an Accept asking for gRPC-Web text changes nothing: a WebSocket carries binary frames, and early answers are binary too", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"));
    await call.opened();
    call.headers({ ...grpcWebHeaders, accept: "application/grpc-web-text" });
    call.data(probeFrame({ text: "t" }));
    call.end();
    const out = await call.outcome();
    assert.equal(out.header["content-type"], "application/grpc-web+proto");
    assert.equal(fromBinary(ProbeResponseSchema, out.messages[0]!).text, "t");
    assert.equal(out.trailer?.["grpc-status"], "0");

    const unknown = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Nope"));
    await unknown.opened();
    unknown.headers({ ...grpcWebHeaders, accept: "application/grpc-web-text" });
    unknown.end();
    const u = await unknown.outcome();
    assert.equal(u.trailer?.["grpc-status"], String(Code.Unimplemented), "a binary trailer frame, not base64");
  });

  test("the upgrade request's own headers reach the handler; the header block wins", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"), { origin: allowedOrigin });
    await call.opened();
    call.headers({ ...grpcWebHeaders });
    call.data(probeFrame({ text: "h" }));
    call.end();
    const out = await call.outcome();
    const seen = fromBinary(ProbeResponseSchema, out.messages[0]!).headers;
    assert.equal(seen["content-type"], "application/grpc-web+proto");
    assert.equal(out.trailer?.["x-probe-trailer"], "done");
    // CORS headers mean nothing inside a WebSocket: none in the header frame.
    assert.equal(Object.keys(out.header).some((k) => k.startsWith("access-control-")), false);
  });

  test("early answers and protocol errors: UNIMPLEMENTED, bad messages (1002), text (1003), wrong content type", async () => {
    const unknown = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Nope"));
    await unknown.opened();
    unknown.headers(grpcWebHeaders);
    unknown.end();
    const u = await unknown.outcome();
    assert.equal(u.trailer?.["grpc-status"], String(Code.Unimplemented));
    assert.equal(u.closeCode, 1000);

    const badByte = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/ClientStream"));
    await badByte.opened();
    badByte.headers(grpcWebHeaders);
    badByte.ws.send(Buffer.from([7, 1, 2]));
    const b = await badByte.outcome();
    assert.equal(b.trailer?.["grpc-status"], String(Code.InvalidArgument));
    assert.match(decodeURIComponent(b.trailer?.["grpc-message"] ?? ""), /^SLUICE_WEBSOCKET_PROTOCOL_ERROR: the client broke the grpc-websockets protocol: a message starting with 0x07/);
    assert.equal(b.closeCode, 1002);

    const text = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/ClientStream"));
    await text.opened();
    text.ws.send("content-type: application/grpc-web+proto\r\n");
    const t = await text.outcome();
    assert.equal(t.trailer?.["grpc-status"], String(Code.InvalidArgument));
    assert.equal(t.closeCode, 1003);

    const connect = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"));
    await connect.opened();
    connect.headers({ "content-type": "application/connect+proto" });
    const c = await connect.outcome();
    assert.match(decodeURIComponent(c.trailer?.["grpc-message"] ?? ""), /content type "application\/connect\+proto" is not served over WebSocket/);
    assert.equal(c.closeCode, 1003);
    await gw.waitForOutput(/"code":"SLUICE_WEBSOCKET_PROTOCOL_ERROR","closeCode":1003/);
  });

  test("the handshake: Origin must be the gateway's own or in cors.origins; the sub-protocol is required", async () => {
    for (const origin of [allowedOrigin, gw.url, undefined]) {
      const ok = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"), origin ? { origin } : {});
      await ok.opened();
      assert.equal(ok.ws.protocol, "grpc-websockets");
      ok.ws.close();
    }
    const refused = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"), { origin: "https://evil.example" });
    const err = (await refused.opened().then(() => undefined, (e: unknown) => e)) as { status: number; body: string };
    assert.equal(err.status, 403);
    assert.match(err.body, /^SLUICE_WEBSOCKET_ORIGIN_REFUSED: .*origin https:\/\/evil\.example refused/);
    await gw.waitForOutput(/"code":"SLUICE_WEBSOCKET_ORIGIN_REFUSED"/);

    const noProtocol = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/Unary"), { protocols: ["chat"] });
    const e2 = (await noProtocol.opened().then(() => undefined, (e: unknown) => e)) as { status: number; body: string };
    assert.equal(e2.status, 400);
    assert.match(e2.body, /^SLUICE_WEBSOCKET_HANDSHAKE: .*offer the sub-protocol grpc-websockets/);
  });

  test("flow control: the gateway stops reading the socket while the handler is not taking messages", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/ClientStream"));
    await call.opened();
    call.headers(grpcWebHeaders);
    // The first message makes the handler sleep; 256 more of 256 KiB each
    // (64 MiB) are queued at once behind it.
    call.data(probeFrame({ text: "first", sleepMs: 4_000 }));
    const chunk = probeFrame({ payload: new Uint8Array(256 * 1024) });
    for (let i = 0; i < 256; i++) call.data(chunk);
    call.end();
    await sleep(500);
    // Had the gateway read on, it would hold them all by now; it holds a few
    // (and the network buffers some), the rest is still on the client.
    assert.ok(call.ws.bufferedAmount > 32 * 1024 * 1024, `only ${call.ws.bufferedAmount} bytes still on the client`);
    const out = await call.outcome();
    assert.equal(out.trailer?.["grpc-status"], "0", JSON.stringify(out.trailer));
    const summary = fromBinary(ProbeSummarySchema, out.messages[0]!);
    assert.equal(summary.count, 257n);
    assert.equal(summary.bytes, 256n * 256n * 1024n);
  });
});

describe("gRPC-Web over WebSocket: the examples' chat", () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ functionsDir: path.join(root, "functions") });
  });
  after(async () => {
    await gw.stop();
  });

  function chatMessage(req: Parameters<typeof create<typeof ChatRequestSchema>>[1]): Buffer {
    return envelope(toBinary(ChatRequestSchema, create(ChatRequestSchema, req)));
  }

  test("a member that stops reading is paused at the gateway, falls behind the room and is cut off with RESOURCE_EXHAUSTED", async () => {
    const room = "slow-room";
    const slow = new RawWsCall(wsUrl(gw, "/chat.v1.ChatService/Chat"));
    await slow.opened();
    slow.headers(grpcWebHeaders);
    slow.data(chatMessage({ action: { case: "join", value: { room, name: "slow" } } }));
    // Stop reading the socket: what the gateway sends piles up in the network buffers, then in the outbox.
    slow.ws.pause();

    // The room's traffic: 6,000 messages of 2,000 characters (12 MB), far
    // more than the network buffers between the gateway and a client that
    // does not read (a few MB here).
    const total = 6_000;
    const flood = floodRoom(gw.url, room, total);
    const slowLeft = flood.left("slow");
    await flood.done;
    // The slow member now reads what was sent to it: what the buffers and
    // its outbox held, then RESOURCE_EXHAUSTED; and the room hears it left.
    slow.ws.resume();
    const out = await slow.outcome();
    assert.equal(out.trailer?.["grpc-status"], String(Code.ResourceExhausted), JSON.stringify(out.trailer));
    assert.match(decodeURIComponent(out.trailer?.["grpc-message"] ?? ""), /fell more than 256 events behind the room/);
    assert.ok(out.messages.length > 256 && out.messages.length < total, `${out.messages.length} events of ${total}`);
    assert.equal(fromBinary(ChatEventSchema, out.messages[0]!).from, "slow");
    await slowLeft;
  });

  test("shutdown: a chat member is told UNAVAILABLE and the WebSocket closes with 1001", async () => {
    const member = new RawWsCall(wsUrl(gw, "/chat.v1.ChatService/Chat"));
    await member.opened();
    member.headers(grpcWebHeaders);
    member.data(chatMessage({ action: { case: "join", value: { room: "drain", name: "ada" } } }));
    await new Promise<void>((resolve) => member.ws.once("message", () => resolve()));
    const code = gw.stop();
    const out = await member.outcome();
    assert.equal(out.trailer?.["grpc-status"], String(Code.Unavailable));
    assert.match(decodeURIComponent(out.trailer?.["grpc-message"] ?? ""), /the server is restarting; join again/);
    assert.equal(out.closeCode, 1001);
    assert.equal(await code, 0);
  });
});

describe("gRPC-Web over WebSocket: keepalive and the drain timeout", () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ args: ["--set", "websocket.pingIntervalMs=200", "--set", "drainTimeoutMs=1000"] });
  });
  after(async () => {
    await gw.stop();
  });

  test("a client that answers no ping is taken for gone: its call is cancelled", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/ClientStream"), { autoPong: false });
    await call.opened();
    call.headers({ ...grpcWebHeaders, "x-request-id": "ws-silent-1" });
    const out = await call.outcome();
    assert.equal(out.closeCode, 1006);
    await gw.waitForOutput(/"reqId":"ws-silent-1","rpc":"\/probe\.v1\.ProbeService\/ClientStream","code":"Canceled"/);
  });

  test("a call still running at the drain timeout ends with UNAVAILABLE and close 1001; the gateway exits 0", async () => {
    const call = new RawWsCall(wsUrl(gw, "/probe.v1.ProbeService/ServerStream"));
    await call.opened();
    call.headers(grpcWebHeaders);
    call.data(probeFrame({ count: 0, sleepMs: 50 }));
    call.end();
    await new Promise<void>((resolve) => call.ws.once("message", () => resolve()));
    const code = gw.stop();
    const out = await call.outcome();
    assert.ok(out.messages.length > 0);
    assert.equal(out.trailer?.["grpc-status"], String(Code.Unavailable));
    assert.match(decodeURIComponent(out.trailer?.["grpc-message"] ?? ""), /^SLUICE_RPC_DRAIN_TIMEOUT/);
    assert.equal(out.closeCode, 1001);
    assert.equal(await code, 0);
  });
});

describe("gRPC-Web over WebSocket: TLS, and turned off", () => {
  const cert = createSelfSignedCert();
  let tlsGw: RunningGateway;
  let off: RunningGateway;
  before(async () => {
    [tlsGw, off] = await Promise.all([
      startGateway({ args: ["--tls-cert", cert.certPath, "--tls-key", cert.keyPath] }),
      startGateway({ args: ["--set", "websocket.enabled=false"] }),
    ]);
  });
  after(async () => {
    await Promise.all([tlsGw?.stop(), off?.stop()]);
    rmSync(cert.dir, { recursive: true, force: true });
  });

  test("wss:// on the TLS port (ALPN http/1.1) carries a bidi call", async () => {
    const call = new RawWsCall(`wss://127.0.0.1:${tlsGw.port}/probe.v1.ProbeService/Bidi`, { ca: cert.cert });
    await call.opened();
    call.headers(grpcWebHeaders);
    call.data(probeFrame({ text: "secure" }));
    call.end();
    const out = await call.outcome();
    assert.deepEqual(out.messages.map((m) => fromBinary(ProbeResponseSchema, m).text), ["secure"]);
    assert.equal(out.trailer?.["grpc-status"], "0");
  });

  test("websocket.enabled=false: an upgrade is served as the plain HTTP/1.1 request it is", async () => {
    const call = new RawWsCall(wsUrl(off, "/probe.v1.ProbeService/ServerStream"));
    const err = (await call.opened().then(() => undefined, (e: unknown) => e)) as { status: number } | undefined;
    // A GET of a method that only takes POST.
    assert.equal(err?.status, 405);
  });
});
