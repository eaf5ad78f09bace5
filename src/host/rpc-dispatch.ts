import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { mustQueue } from "../limits/admission.js";
import { H2SessionGuard } from "../limits/h2-session-guard.js";
import { headersTooLarge } from "../limits/header-checks.js";
import { parseGetRequest } from "../protocol/connect/get-request.js";
import { connectStreamWire, connectUnaryWire } from "../protocol/connect/connect-wire.js";
import { guessProtocol, parseContentType, type RequestType } from "../protocol/content-type.js";
import { grpcWire } from "../protocol/grpc/grpc-wire.js";
import { grpcWebWire } from "../protocol/grpc-web/grpc-web-wire.js";
import { grpcWebTextMode } from "../protocol/grpc-web/text-mode.js";
import { headerValue } from "../protocol/metadata.js";
import type { Wire } from "../protocol/wire.js";
import type { CallEnv } from "../rpc/call-env.js";
import { answerEarlyError, answerHttp } from "../rpc/early-answer.js";
import type { Exchange } from "../rpc/exchange.js";
import { FunctionCall, type QueryMessage } from "../rpc/function-call.js";
import { H1Exchange } from "../rpc/h1-exchange.js";
import { H2Exchange } from "../rpc/h2-exchange.js";
import { QueuedCall } from "../rpc/queued-call.js";
import { TextExchange } from "../rpc/text-exchange.js";
import { ProxyCall } from "../upstream/proxy-call.js";
import type { Abortable } from "./in-flight.js";
import type { Route, RouteTable } from "./route-table.js";
import { WebSocketUpgrade } from "./websocket-upgrade.js";

/** Fastify's handler for everything that is not an RPC. */
export type HttpHandler = (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse) => void;

export interface DispatchDeps {
  table: RouteTable;
  env: CallEnv;
  requestId: (headers: IncomingHttpHeaders) => string;
  /** Paths Fastify answers itself (health probes). */
  httpPaths: ReadonlySet<string>;
  /** The largest request header block (maxHeaderBytes), checked on every HTTP/2 stream and WebSocket call. */
  maxHeaderBytes: number;
  /** gRPC-Web over WebSocket (config websocket.*); undefined when it is off. */
  websocket?: { pingIntervalMs: number };
}

const getRequest: RequestType = { protocol: "connect", binary: true, stream: false, text: false };
const noop = () => {};
const { NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** A stream Fastify answers gives its connection slot back when it closes. */
function releaseSlotOnClose(this: http2.ServerHttp2Stream): void {
  const guard = H2SessionGuard.of(this);
  if (guard === undefined) return;
  guard.releaseSlot();
  if (!this.writableFinished && this.rstCode !== http2.constants.NGHTTP2_NO_ERROR) guard.onReset();
}

/**
 * The front door of every request, before Fastify: RPCs are served here,
 * from the HTTP/2 stream API or the HTTP/1.1 request, without Fastify's
 * per-request routing, hooks or reply objects; everything else (health
 * probes, CORS preflights, static files, 404s) goes to Fastify.
 *
 *   listener → onStream / onRequest / WebSocket → route lookup → admission → FunctionCall | ProxyCall .run()
 *
 * Every HTTP/2 stream first takes a slot on its connection (H2SessionGuard:
 * REFUSED_STREAM past http2.maxConcurrentStreams, held until the handler has
 * returned) and has the size of its header block checked, before any other
 * work. A call is then admitted (Admission: overload shedding, the
 * route's rate, maxConcurrent and queue) or answered with the refusal.
 *
 * A request is an RPC when its path is a served method, or when it carries
 * an RPC content type or is a POST (then it gets UNIMPLEMENTED in its
 * protocol), or when it is a GET of a path shaped like one.
 */
export class RpcDispatch {
  #fastify: HttpHandler = () => {
    throw new Error("RpcDispatch: Fastify's handler is not set");
  };

  readonly #websocket: WebSocketUpgrade | undefined;

  constructor(private readonly deps: DispatchDeps) {
    const ws = deps.websocket;
    this.#websocket = ws && new WebSocketUpgrade({ ...ws, maxHeaderBytes: deps.maxHeaderBytes, env: deps.env, requestId: deps.requestId, serve: (x, rawPath, started) => this.#serve(x, rawPath, started) });
  }

  /** Fastify's request handler, for what is not an RPC. */
  set fastify(handler: HttpHandler) {
    this.#fastify = handler;
  }

  /** An HTTP/2 stream (the server is created without a request listener). */
  readonly onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    stream.on("error", noop);
    const guard = H2SessionGuard.of(stream);
    // Reset before we got to it (HEADERS and RST_STREAM in one read): no
    // work at all, but it counts towards the connection's reset budget.
    if (stream.destroyed) return guard?.onReset();
    if (guard !== undefined && !guard.takeSlot(stream)) return;
    if (headersTooLarge(rawHeaders, this.deps.maxHeaderBytes)) return this.#refuseHeaders(stream, guard);
    const method = headers[":method"] ?? "GET";
    const rawPath = headers[":path"] ?? "/";
    if (!this.#isRpc(method, rawPath, headers)) {
      if (guard !== undefined) stream.once("close", releaseSlotOnClose);
      // What Node's compatibility layer does for a 'request' listener.
      const req = new http2.Http2ServerRequest(stream, headers, undefined as never, rawHeaders);
      const res = new http2.Http2ServerResponse(stream);
      this.#fastify(req, res);
      return;
    }
    this.#serve(new H2Exchange(stream, headers, schemeOf(stream.session), guard), rawPath);
  };

  /** A header block over maxHeaderBytes gets 431, as over HTTP/1.1; it counts towards the connection's reset budget. */
  #refuseHeaders(stream: http2.ServerHttp2Stream, guard: H2SessionGuard | undefined): void {
    if (guard !== undefined) stream.once("close", () => guard.releaseSlot());
    this.deps.env.limits.stats.count("http2HeaderTooLarge");
    try {
      stream.respond({ ":status": 431 }, { endStream: true });
    } catch {
      stream.close(NGHTTP2_PROTOCOL_ERROR);
    }
    guard?.onReset();
  }

  /** An HTTP/1.1 request. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    const rawPath = req.url ?? "/";
    if (!this.#isRpc(method, rawPath, req.headers)) {
      this.#fastify(req, res);
      return;
    }
    req.on("error", noop);
    res.on("error", noop);
    this.#serve(new H1Exchange(req, res), rawPath);
  };

  /**
   * An HTTP/1.1 upgrade request: a WebSocket for gRPC-Web is served here;
   * false for anything else (the listener then serves it as plain HTTP/1.1).
   */
  readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): boolean => {
    return this.#websocket?.handle(req, socket, head) ?? false;
  };

  #isRpc(method: string, rawPath: string, headers: IncomingHttpHeaders): boolean {
    if (method === "OPTIONS" || method === "HEAD") return false;
    const path = pathOf(rawPath);
    if (this.deps.table.get(path) !== undefined) return true;
    if (this.deps.httpPaths.has(path)) return false;
    if (method !== "GET") return true;
    return looksLikeRpcPath(path) || headers["content-type"] !== undefined && parseContentType(headerValue(headers["content-type"])) !== undefined;
  }

  /** Starts the call (or answers at once); `started` gets the call (a WebSocket fails it on a protocol error). */
  #serve(x: Exchange, rawPath: string, started?: (call: Abortable) => void): void {
    const { env, table } = this.deps;
    const requestId = this.deps.requestId(x.headers);
    const q = rawPath.indexOf("?");
    const path = q === -1 ? rawPath : rawPath.slice(0, q);
    const route = table.get(path);
    if (route === undefined) {
      const error = rpcError("SLUICE_RPC_UNIMPLEMENTED", Code.Unimplemented, { path });
      answerEarlyError(forTextCaller(x), error, this.#earlyHeaders(x, requestId));
      env.telemetry.unknownPath(path, guessProtocol(headerValue(x.headers["content-type"])), x.headers, error);
      this.#logEarly(requestId, path, Code.Unimplemented);
      return;
    }
    const kind = route.method.methodKind;
    if (kind === "bidi_streaming" && x.httpMajor === 1 && x.fullDuplex !== true) return answerHttp(x, 505, this.#earlyHeaders(x, requestId));
    if (x.method === "GET") {
      if (!route.allowGet) return answerHttp(x, 405, this.#earlyHeaders(x, requestId), "POST");
      const get = parseGetRequest(q === -1 ? "" : rawPath.slice(q + 1));
      if ("unsupported" in get) return answerHttp(x, 415, this.#earlyHeaders(x, requestId), undefined, get.unsupported);
      if ("error" in get) return answerEarlyError(x, get.error, this.#earlyHeaders(x, requestId));
      if (this.#draining(x, requestId, route)) return;
      const type = get.binary ? getRequest : { ...getRequest, binary: false };
      this.#start(x, route, type, connectUnaryWire, requestId, { message: get.message, compression: get.compression });
      return;
    }
    if (x.method !== "POST") return answerHttp(x, 405, this.#earlyHeaders(x, requestId), route.allowGet ? "GET, POST" : "POST");
    const type = parseContentType(headerValue(x.headers["content-type"]));
    const wire = type === undefined ? undefined : wireFor(type, kind === "unary");
    if (type === undefined || wire === undefined) return answerHttp(x, 415, this.#earlyHeaders(x, requestId));
    // gRPC-Web text: decided once per call; binary calls keep their exchange.
    // A WebSocket carries binary frames whatever its Accept header says.
    const text = type.protocol === "grpc-web" && x.fullDuplex !== true ? grpcWebTextMode(type.text, headerValue(x.headers.accept)) : undefined;
    const cx = text === undefined ? x : new TextExchange(x, text);
    if (this.#draining(cx, requestId, route)) return;
    this.#start(cx, route, type, wire, requestId, undefined, started);
  }

  /**
   * Admission, then the call: a call refused (shed, rate-limited, over
   * maxConcurrent) is answered here, before anything is made for it;
   * otherwise it runs now, or offers itself to its route's queue.
   */
  #start(x: Exchange, route: Route, type: RequestType, wire: Wire, requestId: string, query: QueryMessage | undefined, started?: (call: Abortable) => void): void {
    const { env } = this.deps;
    const verdict = env.limits.admission.admit(route.admission, route.essential, x);
    if (verdict !== undefined && verdict !== mustQueue) return this.#refuse(x, route, requestId, verdict);
    const call = route.kind === "proxy" ? new ProxyCall(x, route, type, wire, env, requestId) : new FunctionCall(x, route, type, wire, env, requestId);
    // Whoever may end the call early gets the queued call while it waits:
    // aborting it then takes it out of the queue, with no slot to give back.
    const waiting = verdict === mustQueue ? new QueuedCall(call, x, route, type.protocol, env, requestId, query) : undefined;
    const abortable = waiting ?? call;
    if (x instanceof TextExchange) x.onBadBody = (e) => abortable.abort(e);
    started?.(abortable);
    if (waiting !== undefined) waiting.enqueue();
    else call.run(query);
  }

  #refuse(x: Exchange, route: Route, requestId: string, refusal: ConnectError): void {
    const limits = this.deps.env.limits;
    answerEarlyError(x, refusal, this.#earlyHeaders(x, requestId));
    this.deps.env.telemetry.refused(route, guessProtocol(headerValue(x.headers["content-type"])), x.headers, refusal);
    const shed = limits.admission.shedReason(refusal);
    if (shed !== undefined) limits.shedLog.note(shed);
    else this.#logEarly(requestId, route.path, refusal.code);
  }

  /** After shutdown began, new calls get UNAVAILABLE (and HTTP/1.1 connections close). */
  #draining(x: Exchange, requestId: string, route: Route): boolean {
    if (!this.deps.env.draining.aborted) return false;
    const h = this.#earlyHeaders(x, requestId);
    if (x.httpMajor === 1) h.connection = "close";
    const error = rpcError("SLUICE_RPC_DRAINING", Code.Unavailable);
    answerEarlyError(x, error, h);
    this.deps.env.telemetry.refused(route, guessProtocol(headerValue(x.headers["content-type"])), x.headers, error);
    this.#logEarly(requestId, route.path, Code.Unavailable);
    return true;
  }

  /** Headers of an answer given before any call started. */
  #earlyHeaders(x: Exchange, requestId: string): OutgoingHttpHeaders {
    const h: OutgoingHttpHeaders = { "x-request-id": requestId };
    this.deps.env.cors.applyToResponse(headerValue(x.headers.origin), h);
    return h;
  }

  #logEarly(requestId: string, path: string, code: Code): void {
    if (this.deps.env.logCalls) this.deps.env.log.info({ reqId: requestId, rpc: path, code: Code[code], ms: 0 }, "rpc");
  }
}

/**
 * The wire for a content type on a method of this kind; undefined when the
 * two do not go together (Connect unary types on a streaming method and the
 * reverse).
 */
function wireFor(type: RequestType, unaryMethod: boolean): Wire | undefined {
  switch (type.protocol) {
    case "grpc":
      return grpcWire;
    case "grpc-web":
      return grpcWebWire;
    case "connect":
      if (type.stream === unaryMethod) return undefined;
      return type.stream ? connectStreamWire : connectUnaryWire;
  }
}

const scheme = Symbol("sluice.scheme");

/**
 * "https" on a TLS connection. Remembered on the session: its `socket` is a
 * Proxy whose every property read goes through a trap.
 */
function schemeOf(session: (http2.Http2Session & { [scheme]?: "http" | "https" }) | undefined): "http" | "https" {
  if (session === undefined) return "http";
  return (session[scheme] ??= (session.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http");
}

/** An early answer to a gRPC-Web text caller must be text too (its client decodes it). */
function forTextCaller(x: Exchange): Exchange {
  if (x.fullDuplex === true) return x;
  const type = parseContentType(headerValue(x.headers["content-type"]));
  if (type?.protocol !== "grpc-web") return x;
  const text = grpcWebTextMode(type.text, headerValue(x.headers.accept));
  return text === undefined ? x : new TextExchange(x, text);
}

function pathOf(rawPath: string): string {
  const q = rawPath.indexOf("?");
  return q === -1 ? rawPath : rawPath.slice(0, q);
}

function looksLikeRpcPath(path: string): boolean {
  return /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(path);
}
