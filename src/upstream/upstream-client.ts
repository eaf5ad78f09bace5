import type { IncomingHttpHeaders } from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type { Context } from "@opentelemetry/api";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { validateReadWriteMaxBytes, type CommonTransportOptions } from "@connectrpc/connect/protocol";
import { createTransport as createConnectTransport } from "@connectrpc/connect/protocol-connect";
import { createTransport as createGrpcTransport } from "@connectrpc/connect/protocol-grpc";
import { createTransport as createGrpcWebTransport } from "@connectrpc/connect/protocol-grpc-web";
import { observeUpstreamCall } from "./observe-upstream-call.js";
import { createPooledHttpClient } from "./pooled-http-client.js";
import { callUnaryUpstream } from "./unary-upstream-call.js";
import type { Upstream } from "./upstream.js";

/** What a function's call passes on to the upstream calls it makes. */
export interface UpstreamPropagation {
  /** Time left of the calling call's deadline, ms (ctx.timeoutMs()); upstream calls get at most this. */
  timeoutMs?: number;
  /** The calling call's signal (ctx.signal): when it fires, the upstream calls are cancelled. */
  signal?: AbortSignal;
  /** The calling call's request id, sent as x-request-id. */
  requestId?: string;
  /** W3C trace context to send; default: the traceparent of requestHeader. */
  traceparent?: string;
  /** The calling call's request headers (as Headers, or Node's object): tracestate and the upstream's forwardHeaders are copied from them. */
  requestHeader?: Headers | IncomingHttpHeaders;
  /** The calling call's span (when traced): each call gets a client span under it, whose context is sent instead. */
  traceContext?: Context | undefined;
}

/**
 * A typed Connect client for `service` on the upstream's pool, in the
 * upstream's protocol, for all four stream kinds. Calls carry what
 * `propagation` gives: the deadline (as the protocol's timeout header, and
 * enforced), cancellation, x-request-id, traceparent/tracestate and the
 * upstream's forwardHeaders; a header the call sets itself wins. Failures
 * reach the caller as ConnectErrors: the upstream's own, or Sluice's
 * SLUICE_UPSTREAM_* ones.
 *
 * Unary calls, the common case, take a lean path of Sluice's own
 * (callUnaryUpstream); streams go through Connect-ES's transport for the
 * protocol, made on the first stream, over the same pool.
 */
export function createUpstreamClient<T extends DescService>(upstream: Upstream, service: T, propagation: UpstreamPropagation = {}): Client<T> {
  const deadline = propagation.timeoutMs !== undefined ? Date.now() + propagation.timeoutMs : undefined;
  const propagated = propagatedHeaders(upstream, propagation);
  let streaming: Transport | undefined;
  const transport: Transport = {
    unary: (method, signal, timeoutMs, header, input) => callUnaryUpstream(upstream, {
      method,
      input,
      header,
      propagated,
      signal: eitherSignal(signal, propagation.signal),
      // As Connect-ES reads it: a timeout of 0 or less is none.
      deadline: earliest(deadline, timeoutMs !== undefined && timeoutMs > 0 ? Date.now() + timeoutMs : undefined),
      traceContext: propagation.traceContext,
    }),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      (streaming ??= streamingTransport(upstream, deadline, propagated, propagation)).stream(method, signal, timeoutMs, header, input, contextValues),
  };
  return createClient(service, transport);
}

/** Connect-ES's transport for the upstream's protocol, on the pool, with what the calling call passes on. */
function streamingTransport(upstream: Upstream, deadline: number | undefined, propagated: readonly (readonly [string, string])[], propagation: UpstreamPropagation): Transport {
  const options: CommonTransportOptions = {
    httpClient: createPooledHttpClient(upstream, deadline),
    baseUrl: upstream.config.endpoints[0]!,
    useBinaryFormat: true,
    // observe first: its traceparent wins over the one propagate copies from the calling call.
    interceptors: upstream.stats === undefined && propagation.traceContext === undefined ? [propagate(propagated, propagation.signal)] : [observe(upstream, propagation.traceContext), propagate(propagated, propagation.signal)],
    acceptCompression: [compressionGzip, compressionBrotli],
    sendCompression: null,
    ...validateReadWriteMaxBytes(upstream.config.readMaxBytes, undefined, undefined),
  };
  return upstream.config.protocol === "connect"
    ? createConnectTransport(options)
    : upstream.config.protocol === "grpc-web" ? createGrpcWebTransport(options) : createGrpcTransport(options);
}

/** The headers a call passes on from the calling call: x-request-id, trace context and the upstream's forwardHeaders. */
function propagatedHeaders(upstream: Upstream, p: UpstreamPropagation): [string, string][] {
  const fixed: [string, string][] = [];
  if (p.requestId !== undefined) fixed.push(["x-request-id", p.requestId]);
  const traceparent = p.traceparent ?? headerOf(p.requestHeader, "traceparent");
  if (traceparent) fixed.push(["traceparent", traceparent]);
  const tracestate = headerOf(p.requestHeader, "tracestate");
  if (traceparent && tracestate) fixed.push(["tracestate", tracestate]);
  for (const name of upstream.config.forwardHeaders) {
    const value = headerOf(p.requestHeader, name);
    if (value !== undefined) fixed.push([name, value]);
  }
  return fixed;
}

function headerOf(h: Headers | IncomingHttpHeaders | undefined, name: string): string | undefined {
  if (h === undefined) return undefined;
  if (h instanceof Headers) return h.get(name) ?? undefined;
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

function eitherSignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  return a === undefined ? b : b === undefined ? a : AbortSignal.any([a, b]);
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function propagate(fixed: readonly (readonly [string, string])[], signal: AbortSignal | undefined): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of fixed) if (!req.header.has(name)) req.header.set(name, value);
    if (signal === undefined) return next(req);
    return next({ ...req, signal: AbortSignal.any([req.signal, signal]) });
  };
}

/** Latency and outcome per call (upstream metrics), and a client span per call when the calling call is traced. */
function observe(upstream: Upstream, parent: Context | undefined): Interceptor {
  return (next) => async (req) => {
    const obs = observeUpstreamCall(upstream, req.method, parent);
    if (obs.span !== undefined) for (const [name, value] of Object.entries(obs.span.headers())) req.header.set(name, value);
    try {
      const res = await next(req);
      if (!res.stream) {
        obs.end(0);
        return res;
      }
      return { ...res, message: observeMessages(res.message, obs.end) };
    } catch (e) {
      obs.end(ConnectError.from(e).code);
      throw e;
    }
  };
}

/** A streamed response that reports its end: complete (OK), failed, or left early by the caller (CANCELLED). */
async function* observeMessages<T>(messages: AsyncIterable<T>, end: (code: number) => void): AsyncGenerator<T> {
  try {
    yield* messages;
    end(0);
  } catch (e) {
    end(ConnectError.from(e).code);
    throw e;
  } finally {
    end(1);
  }
}
