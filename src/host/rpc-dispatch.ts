import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import http2 from "node:http2";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { mustQueue, type Verdict } from "../limits/admission.js";
import { H2SessionGuard } from "../limits/h2-session-guard.js";
import { headersTooLarge } from "../limits/header-checks.js";
import { parseGetRequest } from "../protocol/connect/get-request.js";
import { connectStreamWire, connectUnaryWire } from "../protocol/connect/connect-wire.js";
import { parseContentType, type RequestType } from "../protocol/content-type.js";
import { grpcWire } from "../protocol/grpc/grpc-wire.js";
import { grpcWebWire } from "../protocol/grpc-web/grpc-web-wire.js";
import { headerValue } from "../protocol/metadata.js";
import type { Wire } from "../protocol/wire.js";
import type { CallEnv } from "../rpc/call-env.js";
import { answerEarlyError, answerHttp } from "../rpc/early-answer.js";
import type { Exchange } from "../rpc/exchange.js";
import { FunctionCall } from "../rpc/function-call.js";
import { H1Exchange } from "../rpc/h1-exchange.js";
import { H2Exchange } from "../rpc/h2-exchange.js";
import type { FunctionRoute, RouteTable } from "./route-table.js";

/** Fastify's handler for everything that is not an RPC. */
export type HttpHandler = (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse) => void;

export interface DispatchDeps {
  table: RouteTable;
  env: CallEnv;
  requestId: (headers: IncomingHttpHeaders) => string;
  /** Paths Fastify answers itself (health probes). */
  httpPaths: ReadonlySet<string>;
  /** The largest request header block (maxHeaderBytes), checked on every HTTP/2 stream. */
  maxHeaderBytes: number;
}

const getRequest: RequestType = { protocol: "connect", binary: true, stream: false, text: false };
const noop = () => {};
/** #admit()'s answer when the call was refused and answered. */
const refused: unique symbol = Symbol("refused");
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
 *   listener → onStream / onRequest → route lookup → admission → FunctionCall.run()
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

  constructor(private readonly deps: DispatchDeps) {}

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
    const secure = (stream.session?.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    this.#serve(new H2Exchange(stream, headers, secure ? "https" : "http", guard), rawPath);
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

  #isRpc(method: string, rawPath: string, headers: IncomingHttpHeaders): boolean {
    if (method === "OPTIONS" || method === "HEAD") return false;
    const path = pathOf(rawPath);
    if (this.deps.table.get(path) !== undefined) return true;
    if (this.deps.httpPaths.has(path)) return false;
    if (method !== "GET") return true;
    return looksLikeRpcPath(path) || headers["content-type"] !== undefined && parseContentType(headerValue(headers["content-type"])) !== undefined;
  }

  #serve(x: Exchange, rawPath: string): void {
    const { env, table } = this.deps;
    const requestId = this.deps.requestId(x.headers);
    const q = rawPath.indexOf("?");
    const path = q === -1 ? rawPath : rawPath.slice(0, q);
    const route = table.get(path);
    const out = (): OutgoingHttpHeaders => {
      const h: OutgoingHttpHeaders = { "x-request-id": requestId };
      env.cors.applyToResponse(headerValue(x.headers.origin), h);
      return h;
    };
    if (route === undefined) {
      answerEarlyError(x, rpcError("SLUICE_RPC_UNIMPLEMENTED", Code.Unimplemented, { path }), out());
      this.#logEarly(requestId, path, Code.Unimplemented);
      return;
    }
    const kind = route.method.methodKind;
    if (kind === "bidi_streaming" && x.httpMajor === 1) return answerHttp(x, 505, out());
    if (x.method === "GET") {
      if (!route.allowGet) return answerHttp(x, 405, out(), "POST");
      const get = parseGetRequest(q === -1 ? "" : rawPath.slice(q + 1));
      if ("unsupported" in get) return answerHttp(x, 415, out());
      if ("error" in get) return answerEarlyError(x, get.error, out());
      if (this.#draining(x, requestId, path, out)) return;
      const admitted = this.#admit(x, route, requestId, path, out);
      if (admitted === refused) return;
      const call = new FunctionCall(x, route, get.binary ? getRequest : { ...getRequest, binary: false }, connectUnaryWire, env, requestId);
      const query = { message: get.message, compression: get.compression };
      if (admitted === mustQueue) call.queue(query);
      else call.run(query);
      return;
    }
    if (x.method !== "POST") return answerHttp(x, 405, out(), route.allowGet ? "GET, POST" : "POST");
    const type = parseContentType(headerValue(x.headers["content-type"]));
    const wire = type === undefined ? undefined : wireFor(type, kind === "unary");
    if (type === undefined || wire === undefined) return answerHttp(x, 415, out());
    const admitted = this.#admit(x, route, requestId, path, out);
    if (admitted === refused) return;
    const call = new FunctionCall(x, route, type, wire, env, requestId);
    if (admitted === mustQueue) call.queue();
    else call.run();
  }

  /**
   * Admission: a call refused (shed, rate-limited, over maxConcurrent) is
   * answered here, before anything is made for it; otherwise the call runs
   * now (undefined) or offers itself to its route's queue (mustQueue).
   */
  #admit(x: Exchange, route: FunctionRoute, requestId: string, path: string, out: () => OutgoingHttpHeaders): Exclude<Verdict, ConnectError> | typeof refused {
    const limits = this.deps.env.limits;
    const verdict = limits.admission.admit(route.admission, route.essential, x);
    if (verdict === undefined || verdict === mustQueue) return verdict;
    answerEarlyError(x, verdict, out());
    const shed = limits.admission.shedReason(verdict);
    if (shed !== undefined) limits.shedLog.note(shed);
    else this.#logEarly(requestId, path, verdict.code);
    return refused;
  }

  /** After shutdown began, new calls get UNAVAILABLE (and HTTP/1.1 connections close). */
  #draining(x: Exchange, requestId: string, path: string, out: () => OutgoingHttpHeaders): boolean {
    if (!this.deps.env.draining.aborted) return false;
    const h = out();
    if (x.httpMajor === 1) h.connection = "close";
    answerEarlyError(x, rpcError("SLUICE_RPC_DRAINING", Code.Unavailable), h);
    this.#logEarly(requestId, path, Code.Unavailable);
    return true;
  }

  #logEarly(requestId: string, path: string, code: Code): void {
    if (this.deps.env.logCalls) this.deps.env.log.info({ reqId: requestId, rpc: path, code: Code[code], ms: 0 }, "rpc");
  }
}

/**
 * The wire for a content type on a method of this kind; undefined when the
 * two do not go together (Connect unary types on a streaming method and the
 * reverse, and gRPC-Web text, which is not served yet).
 */
function wireFor(type: RequestType, unaryMethod: boolean): Wire | undefined {
  switch (type.protocol) {
    case "grpc":
      return grpcWire;
    case "grpc-web":
      return type.text ? undefined : grpcWebWire;
    case "connect":
      if (type.stream === unaryMethod) return undefined;
      return type.stream ? connectStreamWire : connectUnaryWire;
  }
}

function pathOf(rawPath: string): string {
  const q = rawPath.indexOf("?");
  return q === -1 ? rawPath : rawPath.slice(0, q);
}

function looksLikeRpcPath(path: string): boolean {
  return /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(path);
}
