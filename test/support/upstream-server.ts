// A backend for the upstream tests, run as its own process by
// test/support/upstream-process.ts: the probe service (test/proto) served by
// @grpc/grpc-js (gRPC), or by connect-node over h2c (gRPC, gRPC-Web and
// Connect). It counts TCP connections and calls from its own side, and
// answers commands over the IPC channel (stats, goaway).
//
// Behaviour per request, for the tests to provoke on purpose:
// - `fail` answers with that error; its metadata goes in the trailers
//   (e.g. grpc-retry-pushback-ms).
// - text "flaky:<n>:<key>" fails with UNAVAILABLE the first n attempts
//   with that key, then answers.
// - sleep_ms waits before answering (between messages when streaming).
// - count: server streaming sends that many messages (0: until cancelled).
//
// The connect-node server also serves flow.v1.FlowService with the flow-limit
// tests' function (test/fixtures/flow-functions/flow.ts), so that the limits
// of a proxy route can be tested against a real upstream doing what the
// function does behind a function route.
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ProbeService, ProbeResponseSchema, type ProbeRequest } from "../gen/probe/v1/probe_pb.js";
import flow from "../fixtures/flow-functions/flow.js";

interface Args {
  impl: "grpc-js" | "connect";
  host: string;
  port: number;
  maxConcurrentStreams?: number;
  cert?: string;
  key?: string;
  clientCa?: string;
  /** Answer every call with UNAVAILABLE. */
  unavailable?: boolean;
  /** (connect impl) Answer a client's first PING with GOAWAY ENHANCE_YOUR_CALM "too_many_pings", as gRPC servers police keepalive. */
  policePings?: boolean;
}

const args: Args = JSON.parse(process.argv[2] ?? "{}");
const attempts = new Map<string, number[]>();
let activeCalls = 0;
let cancelledCalls = 0;
let totalCalls = 0;
/** Server-streaming messages produced so far (a stalled reader should stop this count). */
let streamedMessages = 0;
const sockets = new Set<net.Socket>();
let totalConnections = 0;

const echoed = ["x-request-id", "traceparent", "tracestate", "grpc-timeout", "connect-timeout-ms", "authorization", "x-forward-me", "x-not-forwarded", "te", ":authority"];

/** What one call does, shared by both implementations. */
interface Call {
  header(name: string): string | undefined;
  /** Fires when the client cancels or the connection dies. */
  signal: AbortSignal;
}

function startCall(key: string): number[] {
  totalCalls += 1;
  const list = attempts.get(key) ?? [];
  list.push(Date.now());
  attempts.set(key, list);
  return list;
}

function trackActive(signal: AbortSignal): () => void {
  activeCalls += 1;
  const onAbort = () => void (cancelledCalls += 1);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    activeCalls -= 1;
    signal.removeEventListener("abort", onAbort);
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("cancelled"));
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("cancelled"));
    }, { once: true });
  });
}

/** The error a request asks for, if any (as a ConnectError). */
function failureOf(req: ProbeRequest, seen: number[]): ConnectError | undefined {
  const flaky = /^flaky:(\d+):/.exec(req.text);
  if (args.unavailable) return new ConnectError("this upstream answers every call with UNAVAILABLE", Code.Unavailable);
  if (flaky && seen.length <= Number(flaky[1])) return new ConnectError(`flaky attempt ${seen.length}`, Code.Unavailable, new Headers(req.fail?.metadata));
  if (req.fail && req.fail.code !== 0) {
    return new ConnectError(req.fail.message || "failed on request", req.fail.code as Code, new Headers(req.fail.metadata));
  }
  return undefined;
}

function respond(req: ProbeRequest, call: Call, sequence: number) {
  const headers: Record<string, string> = {};
  for (const name of echoed) {
    const v = call.header(name);
    if (v !== undefined) headers[name] = v;
  }
  return create(ProbeResponseSchema, { text: req.text, sequence: BigInt(sequence), headers, payload: new Uint8Array(req.responseBytes) });
}

/** The probe service in Connect's handler shape; grpc-js is adapted to it below. */
const probe = {
  async unary(req: ProbeRequest, call: Call) {
    const seen = startCall(req.text);
    const done = trackActive(call.signal);
    try {
      if (req.sleepMs > 0) await sleep(req.sleepMs, call.signal);
      const failure = failureOf(req, seen);
      if (failure) throw failure;
      return respond(req, call, seen.length);
    } finally {
      done();
    }
  },
  async *serverStream(req: ProbeRequest, call: Call) {
    const seen = startCall(req.text);
    const done = trackActive(call.signal);
    try {
      const failure = failureOf(req, seen);
      if (failure && !(req.count > 0)) throw failure;
      for (let i = 1; req.count === 0 || i <= req.count; i++) {
        if (req.sleepMs > 0) await sleep(req.sleepMs, call.signal);
        streamedMessages += 1;
        yield respond(req, call, i);
      }
      if (failure) throw failure;
    } finally {
      done();
    }
  },
  async clientStream(requests: AsyncIterable<ProbeRequest>, call: Call) {
    const done = trackActive(call.signal);
    try {
      let count = 0n;
      let bytes = 0n;
      const texts: string[] = [];
      let seen: number[] = [];
      for await (const r of requests) {
        // A stream's attempts are counted under the text of its first request.
        if (count === 0n) seen = startCall(r.text);
        count += 1n;
        bytes += BigInt(r.payload.byteLength);
        texts.push(r.text);
        const failure = failureOf(r, seen);
        if (failure) throw failure;
      }
      return { count, bytes, texts };
    } finally {
      done();
    }
  },
  async *bidi(requests: AsyncIterable<ProbeRequest>, call: Call) {
    const done = trackActive(call.signal);
    try {
      let i = 0;
      let seen: number[] = [];
      for await (const r of requests) {
        if (i === 0) seen = startCall(r.text);
        const failure = failureOf(r, seen);
        if (failure) throw failure;
        if (r.sleepMs > 0) await sleep(r.sleepMs, call.signal);
        yield respond(r, call, ++i);
      }
    } finally {
      done();
    }
  },
};

function connectCall(ctx: HandlerContext): Call {
  return { header: (n) => (n === ":authority" ? ctx.requestHeader.get("host") ?? undefined : ctx.requestHeader.get(n) ?? undefined), signal: ctx.signal };
}

async function startConnect(): Promise<{ port: number; goaway(): void }> {
  const sessions = new Set<http2.Http2Session>();
  const handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      router.service(ProbeService, {
        unary: (req, ctx) => probe.unary(req, connectCall(ctx)),
        serverStream: (req, ctx) => probe.serverStream(req, connectCall(ctx)),
        clientStream: (reqs, ctx) => probe.clientStream(reqs, connectCall(ctx)),
        bidi: (reqs, ctx) => probe.bidi(reqs, connectCall(ctx)),
      });
      router.service(flow.service, flow.implementation);
    },
  });
  const server = http2.createServer({ settings: args.maxConcurrentStreams ? { maxConcurrentStreams: args.maxConcurrentStreams } : {} }, handler);
  server.on("session", (s) => {
    sessions.add(s);
    if (args.policePings) {
      s.once("ping", () => s.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from("too_many_pings")));
    }
    s.on("close", () => sessions.delete(s));
  });
  countConnections(server);
  await new Promise<void>((resolve) => server.listen(args.port, args.host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    goaway: () => {
      for (const s of sessions) s.close();
    },
  };
}

/** grpc-js serves on connections this process accepts itself, so it can count them. */
async function startGrpcJs(): Promise<{ port: number; goaway(): void }> {
  const def = protoLoader.loadSync(path.join(import.meta.dirname, "../proto/probe/v1/probe.proto"), { longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const server = new grpc.Server(args.maxConcurrentStreams ? { "grpc.max_concurrent_streams": args.maxConcurrentStreams } : {});
  const fromGrpc = (r: any): ProbeRequest => ({
    $typeName: "probe.v1.ProbeRequest", text: r.text, payload: new Uint8Array(r.payload ?? []),
    fail: r.fail ? { $typeName: "probe.v1.Failure", code: r.fail.code, message: r.fail.message, metadata: r.fail.metadata ?? {}, plainError: false, withDetail: false, leakRejection: false } : undefined,
    sleepMs: r.sleepMs, count: r.count, responseBytes: r.responseBytes, ignoreSignal: false,
  } as ProbeRequest);
  const toGrpc = (m: any) => ({ text: m.text, payload: Buffer.from(m.payload ?? []), sequence: String(m.sequence ?? 0), headers: m.headers ?? {}, count: m.count !== undefined ? String(m.count) : undefined, bytes: m.bytes !== undefined ? String(m.bytes) : undefined, texts: m.texts });
  const grpcCall = (call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any> | grpc.ServerReadableStream<any, any> | grpc.ServerDuplexStream<any, any>): Call => {
    const ac = new AbortController();
    (call as grpc.ServerUnaryCall<any, any>).on("cancelled", () => ac.abort());
    const md = call.metadata;
    return {
      header: (n) => {
        if (n === "grpc-timeout") {
          const d = Number(call.getDeadline());
          return Number.isFinite(d) ? `${Math.max(0, d - Date.now())}m` : undefined;
        }
        const v = md.get(n === ":authority" ? ":authority" : n)[0];
        return v === undefined ? undefined : String(v);
      },
      signal: ac.signal,
    };
  };
  const toStatus = (e: unknown, reqs?: ProbeRequest[]) => {
    const ce = ConnectError.from(e);
    const metadata = new grpc.Metadata();
    for (const r of reqs ?? []) for (const [k, v] of Object.entries(r.fail?.metadata ?? {})) metadata.set(k, v);
    return { code: ce.code as number, details: ce.rawMessage, metadata };
  };
  async function* readAll(call: grpc.ServerReadableStream<any, any> | grpc.ServerDuplexStream<any, any>, seen: ProbeRequest[]) {
    // A plain for-await would destroy the call at the end of the requests, before its status is sent.
    for await (const r of call.iterator({ destroyOnReturn: false })) {
      const req = fromGrpc(r);
      seen.push(req);
      yield req;
    }
  }
  server.addService(pkg.probe.v1.ProbeService.service, {
    Unary: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      const req = fromGrpc(call.request);
      probe.unary(req, grpcCall(call)).then((m) => cb(null, toGrpc(m)), (e) => cb(toStatus(e, [req])));
    },
    ServerStream: async (call: grpc.ServerWritableStream<any, any>) => {
      const req = fromGrpc(call.request);
      try {
        for await (const m of probe.serverStream(req, grpcCall(call))) {
          if (!call.write(toGrpc(m))) await new Promise((r) => call.once("drain", r));
        }
        call.end();
      } catch (e) {
        if (!call.cancelled) call.emit("error", toStatus(e, [req]));
      }
    },
    ClientStream: (call: grpc.ServerReadableStream<any, any>, cb: grpc.sendUnaryData<any>) => {
      const seen: ProbeRequest[] = [];
      probe.clientStream(readAll(call, seen), grpcCall(call)).then((m) => cb(null, toGrpc(m)), (e) => cb(toStatus(e, seen)));
    },
    Bidi: async (call: grpc.ServerDuplexStream<any, any>) => {
      const seen: ProbeRequest[] = [];
      try {
        for await (const m of probe.bidi(readAll(call, seen), grpcCall(call))) {
          if (!call.write(toGrpc(m))) await new Promise((r) => call.once("drain", r));
        }
        call.end();
      } catch (e) {
        if (!call.cancelled) call.emit("error", toStatus(e, seen));
      }
    },
  });
  const credentials = args.cert && args.key
    ? grpc.ServerCredentials.createSsl(args.clientCa ? readFileSync(args.clientCa) : null, [{ cert_chain: readFileSync(args.cert), private_key: readFileSync(args.key) }], args.clientCa !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const injector = server.createConnectionInjector(credentials);
  const tcp = net.createServer((socket) => injector.injectConnection(socket));
  countConnections(tcp);
  await new Promise<void>((resolve) => tcp.listen(args.port, args.host, resolve));
  return { port: (tcp.address() as net.AddressInfo).port, goaway: () => injector.drain(60_000) };
}

function countConnections(server: net.Server | http2.Http2Server): void {
  server.on("connection", (socket: net.Socket) => {
    totalConnections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
}

const started = await (args.impl === "connect" ? startConnect() : startGrpcJs());
process.on("message", (msg: { id: number; cmd: string }) => {
  if (msg.cmd === "goaway") started.goaway();
  const stats = {
    connections: sockets.size,
    totalConnections,
    activeCalls,
    cancelledCalls,
    totalCalls,
    streamedMessages,
    attempts: Object.fromEntries(attempts),
  };
  process.send!({ id: msg.id, stats });
});
process.send!({ ready: started.port });
