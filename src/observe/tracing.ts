import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Code, type ConnectError } from "@connectrpc/connect";
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from "@opentelemetry/api";
import type { RpcProtocol } from "../protocol/content-type.js";
import type { CallObserver } from "./call-observer.js";
import type { CallStats } from "./call-stats.js";

/**
 * Where @opentelemetry/api 1.x keeps what an SDK registers. Reading it is
 * one property lookup, cheaper than asking the API (which checks versions
 * on every call), so every call can look: with no SDK registered, a call
 * makes no span, not even a non-recording one.
 */
const apiGlobal = Symbol.for("opentelemetry.js.api.1");

let registeredProvider: unknown;
let tracer: Tracer | undefined;

/** The tracer when an SDK has registered a tracer provider; undefined otherwise. */
export function registeredTracer(): Tracer | undefined {
  const provider = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[apiGlobal]?.trace;
  if (provider !== registeredProvider) {
    registeredProvider = provider;
    tracer = provider === undefined ? undefined : trace.getTracer("sluice");
  }
  return tracer;
}

/**
 * Which attribute names spans carry (OTEL_SEMCONV_STABILITY_OPT_IN, as the
 * OpenTelemetry instrumentations read it): by default the RPC conventions of
 * semconv 1.37 that most backends understand (rpc.system, rpc.service,
 * rpc.method, rpc.grpc.status_code); "rpc" for the newer shape
 * (rpc.system.name, rpc.method = "pkg.Service/Method",
 * rpc.response.status_code), "rpc/dup" for both.
 */
const optIn = (process.env.OTEL_SEMCONV_STABILITY_OPT_IN ?? "").split(",").map((s) => s.trim());
const newShape = optIn.includes("rpc") || optIn.includes("rpc/dup");
const oldShape = !optIn.includes("rpc") || optIn.includes("rpc/dup");

/** gRPC status codes a server span counts as errors (the semantic conventions' list); every non-OK code is a client span's. */
const serverErrors = new Set<number>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};

const headerSetter: TextMapSetter<OutgoingHttpHeaders> = {
  set: (h, key, value) => {
    h[key] = value;
  },
};

/** What a span names about the method it is for. */
export interface SpanTarget {
  /** "pkg.Service" */
  service: string;
  /** "Method" */
  method: string;
  /** Server and bidi streaming, or client streaming: message events are recorded. */
  streaming: boolean;
}

/** A path no route serves: the raw "pkg.Service/Method" and, when the gateway serves that service, its name. */
export interface UnknownTarget {
  /** The path without its leading slash, as the client sent it. */
  original: string;
  /** Set when another method of this service is served. */
  service: string | undefined;
}

/** The value of rpc.method for a method the server does not know (RPC semantic conventions). */
const otherMethod = "_OTHER";

/**
 * A server call with its span (kind SERVER, named "pkg.Service/Method"),
 * parented on the caller's traceparent/tracestate as the registered
 * propagator reads them. Streaming calls get an rpc.message event per
 * message. Counts go on to the route's CallStats, if metrics are on.
 *
 * `arrivedAt` (performance.now() time) is set for a call that waited in its
 * route's queue: its span starts when it arrived, not when it began to run.
 */
export class TracedCall implements CallObserver {
  readonly traceContext: Context;
  readonly #span: Span;
  readonly #stats: CallStats | undefined;
  readonly #events: boolean;
  #sentId = 0;
  #receivedId = 0;

  constructor(tracer: Tracer, target: SpanTarget, protocol: RpcProtocol, headers: IncomingHttpHeaders, stats: CallStats | undefined, arrivedAt?: number) {
    const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
    const attributes = rpcAttributes(target, protocol);
    if (arrivedAt !== undefined) attributes["sluice.queue.wait_ms"] = sinceMs(arrivedAt);
    this.#span = tracer.startSpan(`${target.service}/${target.method}`, { kind: SpanKind.SERVER, attributes, startTime: arrivedAt }, parent);
    this.#span.setAttribute("sluice.protocol", protocol);
    this.traceContext = trace.setSpan(parent, this.#span);
    this.#stats = stats;
    this.#events = target.streaming && this.#span.isRecording();
  }

  received(bytes: number): void {
    this.#stats?.received(bytes);
    if (this.#events) this.#span.addEvent("rpc.message", { "rpc.message.type": "RECEIVED", "rpc.message.id": ++this.#receivedId, "rpc.message.uncompressed_size": bytes });
  }

  sent(bytes: number): void {
    this.#stats?.sent(bytes);
    if (this.#events) this.#span.addEvent("rpc.message", { "rpc.message.type": "SENT", "rpc.message.id": ++this.#sentId, "rpc.message.uncompressed_size": bytes });
  }

  finished(code: number, ms: number): void {
    this.#stats?.finished(code, ms);
    endSpan(this.#span, code, serverErrors.has(code));
  }
}

/**
 * The span of a call answered without running (a flow limit, overload
 * shedding, draining, a deadline that passed in the queue, a path no route
 * serves): a SERVER span like a served call's, parented the same way, ended
 * at once. It starts at `arrivedAt` when the call waited in its route's
 * queue. `sluice.refused` says why (the error's SLUICE_ code, or its status
 * name); the span's status message is the error's when the code counts as a
 * server error.
 *
 * A path no route serves is named as the RPC semantic conventions name a
 * method the server does not recognise: span name = the RPC system,
 * rpc.method = _OTHER, the raw name in rpc.method_original.
 */
export function traceRefusal(tracer: Tracer, target: SpanTarget | UnknownTarget, protocol: RpcProtocol, headers: IncomingHttpHeaders, error: ConnectError, arrivedAt: number | undefined): void {
  const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  let name: string;
  let attributes: Attributes;
  if ("method" in target) {
    name = `${target.service}/${target.method}`;
    attributes = rpcAttributes(target, protocol);
  } else {
    name = systemName(protocol);
    attributes = unknownAttributes(target, protocol);
  }
  attributes["sluice.protocol"] = protocol;
  attributes["sluice.refused"] = refusalName(error);
  if (arrivedAt !== undefined) attributes["sluice.queue.wait_ms"] = sinceMs(arrivedAt);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, startTime: arrivedAt }, parent);
  endSpan(span, error.code, serverErrors.has(error.code), error.rawMessage);
}

/**
 * A call to an upstream (kind CLIENT), a child of the call that makes it
 * (or of the active context). start() puts its traceparent/tracestate into
 * the upstream request's headers with the registered propagator.
 */
export class UpstreamSpan {
  readonly #span: Span;
  readonly #context: Context;

  constructor(tracer: Tracer, target: SpanTarget, protocol: RpcProtocol, upstream: string, parent: Context) {
    const attributes = rpcAttributes(target, protocol);
    attributes["sluice.upstream"] = upstream;
    this.#span = tracer.startSpan(`${target.service}/${target.method}`, { kind: SpanKind.CLIENT, attributes }, parent);
    this.#context = trace.setSpan(parent, this.#span);
  }

  /** Writes the span's context into request headers (traceparent, tracestate, …). */
  inject(headers: OutgoingHttpHeaders): void {
    propagation.inject(this.#context, headers, headerSetter);
  }

  /** The span's context as header pairs, for a Connect client request. */
  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    propagation.inject(this.#context, out);
    return out;
  }

  event(name: string, attributes: Attributes): void {
    this.#span.addEvent(name, attributes);
  }

  finished(code: number): void {
    endSpan(this.#span, code, code !== 0);
  }
}

function rpcAttributes(target: SpanTarget, protocol: RpcProtocol): Attributes {
  const connect = protocol === "connect";
  const a: Attributes = {};
  if (oldShape) {
    a["rpc.system"] = connect ? "connect_rpc" : "grpc";
    a["rpc.service"] = target.service;
    a["rpc.method"] = target.method;
  }
  if (newShape) {
    a["rpc.system.name"] = connect ? "connectrpc" : "grpc";
    a["rpc.method"] = `${target.service}/${target.method}`;
  }
  return a;
}

/** rpc.system (or rpc.system.name) for a path no route serves: the method is _OTHER, the service is named only when it is served. */
function unknownAttributes(target: UnknownTarget, protocol: RpcProtocol): Attributes {
  const connect = protocol === "connect";
  const a: Attributes = {};
  if (oldShape) {
    a["rpc.system"] = connect ? "connect_rpc" : "grpc";
    if (target.service !== undefined) a["rpc.service"] = target.service;
  }
  if (newShape) a["rpc.system.name"] = connect ? "connectrpc" : "grpc";
  a["rpc.method"] = otherMethod;
  a["rpc.method_original"] = target.original;
  return a;
}

/** The name of a span whose method is unknown: the RPC system, in the attribute shape written. */
function systemName(protocol: RpcProtocol): string {
  if (protocol !== "connect") return "grpc";
  return oldShape ? "connect_rpc" : "connectrpc";
}

/** "SLUICE_LIMIT_RATE" for the gateway's own errors, the status name ("DEADLINE_EXCEEDED") for others. */
function refusalName(error: ConnectError): string {
  const m = /^SLUICE_[A-Z_]+/.exec(error.rawMessage);
  return m === null ? codeName(error.code) : m[0];
}

/** Milliseconds since a performance.now() time, to the microsecond. */
function sinceMs(at: number): number {
  return Math.round((performance.now() - at) * 1000) / 1000;
}

function endSpan(span: Span, code: number, error: boolean, message?: string): void {
  if (span.isRecording()) {
    if (oldShape) span.setAttribute("rpc.grpc.status_code", code);
    if (newShape) span.setAttribute("rpc.response.status_code", code === 0 ? "OK" : codeName(code));
    if (error) {
      span.setAttribute("error.type", codeName(code));
      span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
    }
  }
  span.end();
}

/** DEADLINE_EXCEEDED for Code.DeadlineExceeded. */
function codeName(code: number): string {
  if (code === Code.Canceled) return "CANCELLED";
  const name = Code[code];
  return name === undefined ? String(code) : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
