import type { OutgoingHttpHeaders } from "node:http";
import http2 from "node:http2";
import { toBinary, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { sharedError } from "../errors.js";
import type { ProxyRoute } from "../host/route-table.js";
import { armDue, Due, dueExpired, timedOut, type DueCall } from "../limits/call-due.js";
import type { Deadlined } from "../limits/deadline-timers.js";
import { OutboundQueue } from "../limits/outbound-queue.js";
import { StreamGovernor } from "../limits/stream-governor.js";
import type { CallObserver } from "../observe/call-observer.js";
import { startUpstreamSpan } from "../observe/telemetry.js";
import type { UpstreamSpan } from "../observe/tracing.js";
import { negotiateCompression, type Compression } from "../protocol/compression.js";
import { connectUnaryError } from "../protocol/connect/connect-wire.js";
import type { RequestType } from "../protocol/content-type.js";
import { compressedFlag, encodeEnvelope } from "../protocol/envelope.js";
import { decodeBinary } from "../protocol/protobuf/binary-decoder.js";
import { copyMetadata, headerValue, isEmptyMetadata, metadataValue, type Metadata } from "../protocol/metadata.js";
import { readClientTimeout } from "../protocol/timeout.js";
import type { Wire } from "../protocol/wire.js";
import type { CallEnv } from "../rpc/call-env.js";
import type { Exchange } from "../rpc/exchange.js";
import type { QueryMessage } from "../rpc/function-call.js";
import { InboundMessages } from "../rpc/inbound-messages.js";
import { RequestBody } from "../rpc/request-body.js";
import { retryBackoffMs } from "./backoff.js";
import { wasNotProcessed } from "./not-processed.js";
import { parseRetryPushback } from "./retry-pushback.js";
import { streamEndpoint, streamFailure } from "./stream-outcome.js";
import { callUpstream } from "./upstream-call.js";
import { isTrailersOnly, readUpstreamResponse, ResponseDecoder, responseMetadata, type ResponseEnd } from "./upstream-response.js";

/** How one attempt of a single-message call ended. */
type AttemptOutcome =
  /** The call is over: pass this on (a message reached the client, or the response ended without an error). */
  | { kind: "done"; end: ResponseEnd }
  /** It failed before any message reached the client: it may be retried. */
  | { kind: "failed"; error: ConnectError; unprocessed: boolean; pushback: number | "stop" | undefined; trailers?: Metadata };

const noOptions = Object.freeze({});
const clientGone = sharedError(() => new ConnectError("the client cancelled the call or went away", Code.Canceled));


/**
 * Request headers that belong to the client's hop or protocol: never passed
 * on, since the upstream leg has its own (set below for the upstream's
 * protocol, or by Upstream.openStream).
 */
const notForwarded = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host", "http2-settings",
  "content-type", "content-length", "content-encoding", "accept-encoding",
  "grpc-encoding", "grpc-accept-encoding", "grpc-timeout", "grpc-message-type",
  "connect-timeout-ms", "connect-content-encoding", "connect-accept-encoding", "connect-protocol-version",
  "x-grpc-web", "x-request-id",
]);
/** Passed on even with a forwardHeaders allowlist: they follow a call across hops. */
const alwaysForwarded = ["traceparent", "tracestate"];

/**
 * One call of a proxy route: the client's call, in whichever of the three
 * protocols it speaks, goes to the route's upstream in the upstream's
 * protocol, and the answer comes back translated.
 *
 * Messages are not decoded when both sides speak protobuf: only the framing
 * changes (envelopes, Connect unary bodies, trailers, end-of-stream
 * messages, status codes). JSON from a client is transcoded with the
 * method's descriptors, since the upstream is always spoken to in binary.
 * Compression is negotiated per leg: the client's messages are inflated on
 * arrival (within readMaxBytes), the upstream is asked for identity, and
 * the client's answer is compressed as the client accepts.
 *
 * Backpressure crosses the gateway both ways: the client's body is read only
 * as fast as the upstream stream takes it (InboundMessages pauses it), and
 * the upstream's body only as fast as the client reads. The deadline, the
 * client going away and shutdown cancel the upstream call.
 *
 * Limits apply as to a function's call, on frames (messages are counted,
 * not decoded): the dispatch admits the call; the deadline node also
 * carries maxDurationMs and firstMessageTimeoutMs; a StreamGovernor (only
 * for routes that set per-stream limits) counts and paces the client's
 * messages on their way up and the upstream's on their way down, where a
 * paced or blocked message keeps the upstream from being read; and the
 * responses of server and bidi streams go through an OutboundQueue, whose
 * slow-consumer policy decides whether the upstream waits for the client
 * (block, cancel) or goes on while old messages are dropped (drop-oldest).
 */
export class ProxyCall implements DueCall {
  deadlineAt = 0;
  deadlineList: Deadlined["deadlineList"] = undefined;
  deadlinePrev: Deadlined | undefined = undefined;
  deadlineNext: Deadlined | undefined = undefined;

  readonly #x: Exchange;
  readonly #route: ProxyRoute;
  readonly #wire: Wire;
  readonly #binary: boolean;
  readonly #env: CallEnv;
  readonly #requestId: string;
  readonly #started: number;
  /**
   * Client and bidi streams: cancels callUpstream (its waits, retries and
   * stream). Unary and server streaming: made only when a call waits for a
   * stream in the upstream's queue, and cancels that wait.
   */
  #cancel: AbortController | undefined;
  /** Unary and server streaming: the attempt's upstream stream, cancelled if the call ends first. */
  #attemptStream: http2.ClientHttp2Stream | undefined;
  #body: RequestBody | undefined;
  #responseCompression: Compression | null = null;
  #upstreamHeaders: Metadata | undefined;
  /** Connect unary clients: the one response message, sent with the status at the end. */
  #unaryMessage: Uint8Array | undefined;
  #done = false;
  /** Metrics and tracing of this call (src/observe/); undefined when neither is on. */
  #obs: CallObserver | undefined;
  /** Traced calls: the span of the upstream call. */
  #upstreamSpan: UpstreamSpan | undefined;
  /** With upstream metrics: when the upstream call began. */
  #forwardedAt = 0;
  // DueCall: what the deadline node waits for (src/limits/call-due.ts).
  due = Due.Deadline;
  dueEnd = 0;
  dueEndKind = Due.Deadline;
  #gotRequest = false;
  #governor: StreamGovernor | undefined;
  /** Server and bidi streams: the responses on their way to the client (made with the first). */
  #outbound: OutboundQueue | undefined;

  constructor(x: Exchange, route: ProxyRoute, type: RequestType, wire: Wire, env: CallEnv, requestId: string) {
    this.#x = x;
    this.#route = route;
    this.#wire = wire;
    this.#binary = type.binary;
    this.#env = env;
    this.#requestId = requestId;
    this.#started = performance.now();
  }

  get #method(): DescMethod {
    return this.#route.method;
  }

  /** Runs the call; `query` carries a Connect GET request's message. */
  run(query?: QueryMessage, queuedSince?: number): void {
    const x = this.#x;
    const env = this.#env;
    env.inFlight.begin(this);
    const route = this.#route;
    const obs = (this.#obs = env.telemetry.serverCall(route, this.#wire.protocol, x.headers, queuedSince));
    x.onClientGone(() => this.#abortWith(clientGone(), false));
    const wire = this.#wire;
    const timeout = readClientTimeout(x.headers, wire.timeoutHeader);
    if (timeout.error) return this.#fail(timeout.error);
    const { maxMs, defaultMs } = route.deadline;
    const clientMs = timeout.ms === undefined ? undefined : Math.min(timeout.ms, maxMs);
    let deadlineMs = clientMs ?? Math.min(defaultMs, maxMs);
    const stream = route.stream;
    // limits maxDurationMs: the gateway ends the call then, with its own error.
    const kind = this.#method.methodKind;
    const firstMessage = query === undefined && (kind === "unary" || kind === "server_streaming") ? env.limits.firstMessageTimeoutMs : undefined;
    if (!armDue(this, env.deadlines, this.#started, deadlineMs, route, firstMessage)) return this.#fail(timedOut());
    const negotiated = negotiateCompression(route.compression, query ? query.compression : headerValue(x.headers[wire.encodingHeader]), headerValue(x.headers[wire.acceptEncodingHeader]), wire.acceptEncodingHeader);
    if (negotiated.error) return this.#fail(negotiated.error);
    this.#responseCompression = negotiated.response;
    if (stream.governed && kind !== "unary") {
      this.#governor = new StreamGovernor(stream, route.name, { deadlines: env.deadlines, stats: env.limits.stats }, (e) => this.#abortWith(e, true));
    }

    const upstreamUnary = route.upstreamUnary;
    const toUpstream = (bytes: Uint8Array): Uint8Array => {
      obs?.received(bytes.byteLength);
      // The upstream is always spoken to in protobuf binary; JSON is transcoded.
      const binary = this.#binary ? bytes : toBinary(this.#method.input, route.codec.parse(bytes, false));
      return upstreamUnary ? binary : encodeEnvelope(0, binary);
    };
    // Only the client's own deadline is passed on, less the time the call
    // waited in the route's queue; the default one is the gateway's to
    // enforce (it cancels the upstream call when it fires).
    const deadline = clientMs === undefined ? undefined : Date.now() + clientMs - (performance.now() - this.#started);
    if (kind === "unary" || kind === "server_streaming") return this.#runSingle(query, negotiated.request, toUpstream, deadline);
    this.#runStream(negotiated.request, toUpstream, deadline);
  }

  /**
   * Unary and server streaming: exactly one request message (the gateway
   * checks, as an upstream taking a Connect unary body could not tell),
   * then one attempt after another on the pool (#forwardOne).
   */
  #runSingle(query: QueryMessage | undefined, compression: Compression | null, toUpstream: (b: Uint8Array) => Uint8Array, deadline: number | undefined): void {
    const kindName = this.#method.methodKind === "unary" ? "unary" : "server-streaming";
    let message: Uint8Array | undefined;
    const send = (bytes: Uint8Array) => {
      let framed: Uint8Array;
      try {
        framed = toUpstream(bytes);
      } catch (e) {
        return this.#fail(e);
      }
      void this.#forwardOne(framed, deadline);
    };
    if (query !== undefined) {
      if (compression === null) send(query.message);
      else compression.decompress(query.message, this.#route.readMaxBytes).then(send, (e: unknown) => this.#fail(e));
      return;
    }
    this.#body = new RequestBody(this.#x, { enveloped: !this.#wire.unary, limit: this.#route.readMaxBytes, compression }, {
      message: (bytes) => {
        if (message !== undefined) return this.#fail(new ConnectError(`protocol error: received extra input message for ${kindName} method`, Code.Unimplemented));
        message = bytes;
      },
      end: () => {
        if (this.#done) return;
        if (message === undefined) return this.#fail(new ConnectError(`protocol error: missing input message for ${kindName} method`, Code.Unimplemented));
        // Complete only now: the first-message timeout covers the end of the stream too.
        this.#gotRequest = true;
        send(message);
      },
      // A bad request body is the client's error, not the upstream's.
      fail: (e) => this.#fail(e),
    });
  }

  /**
   * Client and bidi streaming: the client's messages flow to the upstream as
   * they come, read no faster than it takes them (InboundMessages pauses the
   * body), through callUpstream, which keeps what it needs to replay on a
   * retry.
   */
  #runStream(compression: Compression | null, toUpstream: (b: Uint8Array) => Uint8Array, deadline: number | undefined): void {
    const governor = this.#governor;
    const requests = new InboundMessages<Uint8Array>({
      pause: () => this.#body?.pause(),
      resume: () => this.#body?.resume(),
      onReturn: () => this.#body?.detach(),
      // Paced: the upstream's writer is handed messages no faster than the rate; the client's body stops being read meanwhile.
      ...(governor !== undefined && this.#route.stream.messagesPerSecondIn !== undefined ? { pace: () => governor.inboundDelay() } : {}),
    });
    this.#body = new RequestBody(this.#x, { enveloped: true, limit: this.#route.readMaxBytes, compression }, {
      message: (bytes, size) => {
        if (governor !== undefined) {
          const limited = governor.inbound();
          if (limited !== undefined) return this.#fail(limited);
        }
        let framed: Uint8Array;
        try {
          framed = toUpstream(bytes);
        } catch (e) {
          return this.#fail(e);
        }
        requests.push(framed, size);
      },
      end: () => requests.end(),
      fail: (e) => this.#fail(e),
    });
    void this.#forwardStream(requests, deadline);
  }

  /** Ends the call now (drain timeout); the client gets `error`. */
  abort(error: ConnectError): void {
    this.#abortWith(error, true);
  }

  /** The deadline node came due: the deadline, maxDurationMs, or the first-message timeout. */
  onDeadline(): void {
    const env = this.#env;
    const error = dueExpired(this, env.deadlines, this.#gotRequest, this.#route, env.limits.firstMessageTimeoutMs, env.limits.stats);
    if (error !== undefined) this.#abortWith(error, true);
  }

  /**
   * One request message to the upstream, retried per the upstream's (or
   * route's) policy while no response message has reached the client: on a
   * retryable status, or when the upstream did not process the call. Each
   * attempt is one stream on the pool, read as its frames arrive.
   */
  async #forwardOne(frame: Uint8Array, deadline: number | undefined): Promise<void> {
    const route = this.#route;
    const upstream = route.upstream;
    const policy = route.retryPolicy;
    upstream.counters.calls += 1;
    upstream.budget.recordCall();
    let avoid: Set<string> | undefined;
    const headers = this.#upstreamRequestHeaders();
    for (let attempt = 1; ; attempt++) {
      if (this.#done) return;
      let outcome: AttemptOutcome;
      try {
        const opts = deadline === undefined ? (avoid === undefined ? noOptions : { avoid }) : { deadline, ...(avoid ? { avoid } : {}) };
        // Only a call that waits (for a connection, a slot, DNS) needs a signal: #finish aborts it, so a
        // cancelled call leaves the upstream's queue at once. Most calls open their stream now, with none.
        const stream = upstream.openStreamNow(headers, opts) ?? await upstream.openStream(headers, { ...opts, signal: (this.#cancel ??= new AbortController()).signal });
        if (this.#done) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        if (attempt < policy.maxAttempts) {
          const endpoint = streamEndpoint(stream);
          if (endpoint !== undefined) (avoid ??= new Set()).add(endpoint);
        }
        this.#attemptStream = stream;
        outcome = await this.#attempt(stream, frame);
        this.#attemptStream = undefined;
      } catch (e) {
        outcome = { kind: "failed", error: ConnectError.from(e), unprocessed: wasNotProcessed(e), pushback: undefined };
      }
      if (this.#done) return;
      if (outcome.kind === "done") return this.#end(outcome.end.error, outcome.end.trailers);
      const { error, unprocessed, pushback } = outcome;
      const fail = () => this.#fail(error, outcome.trailers);
      if (attempt >= policy.maxAttempts || pushback === "stop" || !(unprocessed || policy.retryableCodes.includes(error.code))) return fail();
      const delay = pushback ?? retryBackoffMs(attempt, policy);
      if (deadline !== undefined && Date.now() + delay >= deadline) return fail();
      if (!upstream.budget.tryRetry()) {
        upstream.counters.retriesThrottled += 1;
        return fail();
      }
      upstream.counters.retries += 1;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay).unref());
    }
  }

  /**
   * One attempt: sends the frame, passes messages on to the client as they
   * come (the first one commits the call: no retry after it), and resolves
   * with how the attempt ended.
   */
  #attempt(stream: http2.ClientHttp2Stream, frame: Uint8Array): Promise<AttemptOutcome> {
    const route = this.#route;
    return new Promise<AttemptOutcome>((resolve) => {
      let decoder: ResponseDecoder | undefined;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      let waiting: Promise<void> | undefined;
      stream.on("response", (headers) => {
        const status = Number(headers[":status"]);
        responseHeaders = headers;
        // Trailers-Only: its metadata is the call's trailers (ResponseDecoder.finish).
        if (!isTrailersOnly(route.upstream.config.protocol, headers)) this.#upstreamHeaders = responseMetadata(headers, route.upstreamUnary).header;
        decoder = new ResponseDecoder(route.upstream.config.protocol, route.upstreamUnary, status, headers, route.writeMaxBytes, { message: (bytes) => this.#send(bytes) });
      });
      // A response that cannot be passed on (see ResponseDecoder.failed) is not read to its end.
      const stopIfFailed = (): boolean => {
        if (decoder?.failed !== true) return false;
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        return true;
      };
      stream.on("data", (chunk: Buffer) => {
        const wait = decoder?.push(chunk);
        if (wait === undefined) {
          stopIfFailed();
          return;
        }
        // The client is slow (or the route's rate holds the message back): read the upstream no faster.
        stream.pause();
        waiting = wait.then(() => {
          waiting = undefined;
          if (!stopIfFailed()) stream.resume();
        });
      });
      stream.on("trailers", (t) => (trailers = t));
      stream.on("close", () => {
        const settle = async (): Promise<AttemptOutcome> => {
          if (waiting !== undefined) await waiting;
          // The decoder's error comes first: the stream may have been cancelled because of it.
          const failure = decoder?.failed === true ? undefined : streamFailure(stream);
          const sent = decoder?.messages ?? 0;
          if (failure !== undefined || decoder === undefined) {
            const error = failure ?? new ConnectError("the upstream closed the stream without a response", Code.Unavailable);
            // After a message reached the client, the call is the client's: no retry.
            if (sent > 0) return { kind: "done", end: { error, trailers: {} } };
            return { kind: "failed", error, unprocessed: wasNotProcessed(error), pushback: undefined };
          }
          const end = await decoder.finish(trailers);
          if (end.error !== undefined && sent === 0) {
            // Where each protocol puts it: HTTP/2 trailers or Trailers-Only headers (gRPC), the trailer
            // frame (gRPC-Web), trailer- headers (Connect unary), end-of-stream metadata (Connect streaming).
            const pushback = trailers["grpc-retry-pushback-ms"] ?? responseHeaders["grpc-retry-pushback-ms"] ?? metadataValue(end.trailers, "grpc-retry-pushback-ms");
            return { kind: "failed", error: end.error, unprocessed: false, pushback: parseRetryPushback(pushback), trailers: end.trailers };
          }
          return { kind: "done", end };
        };
        settle().then(resolve, (e: unknown) => resolve({ kind: "done", end: { error: ConnectError.from(e, Code.Internal), trailers: {} } }));
      });
      stream.end(frame);
    });
  }

  async #forwardStream(requests: InboundMessages<Uint8Array>, deadline: number | undefined): Promise<void> {
    const route = this.#route;
    let end: ResponseEnd;
    this.#cancel = new AbortController();
    try {
      const response = await callUpstream(route.upstream, { headers: this.#upstreamRequestHeaders(), body: requests }, {
        signal: this.#cancel.signal,
        ...(deadline !== undefined ? { deadline } : {}),
        retry: route.retry,
      });
      if (this.#done) return;
      if (!isTrailersOnly(route.upstream.config.protocol, response.headers)) this.#upstreamHeaders = responseMetadata(response.headers, route.upstreamUnary).header;
      end = await readUpstreamResponse(route.upstream.config.protocol, route.upstreamUnary, response.status, response.headers, response.body, () => response.trailers, route.writeMaxBytes, {
        message: (bytes) => this.#send(bytes),
      });
    } catch (e) {
      if (this.#done) return;
      return this.#fail(e);
    }
    if (this.#done) return;
    this.#end(end.error, end.trailers);
  }

  #upstreamRequestHeaders(): http2.OutgoingHttpHeaders {
    const route = this.#route;
    const h: http2.OutgoingHttpHeaders = { ":path": route.path };
    const allow = route.forwardHeaders;
    const incoming = this.#x.headers;
    if (allow === undefined) {
      for (const name in incoming) {
        if (name.charCodeAt(0) === 58 /* ":" */ || notForwarded.has(name)) continue;
        h[name] = incoming[name];
      }
    } else {
      for (const name of [...allow, ...alwaysForwarded]) if (incoming[name] !== undefined && !notForwarded.has(name)) h[name] = incoming[name];
    }
    Object.assign(h, route.setHeaders);
    h["x-request-id"] = this.#requestId;
    if (route.upstream.stats !== undefined) this.#forwardedAt = performance.now();
    const traced = this.#obs?.traceContext;
    if (traced !== undefined) {
      // The upstream's parent is this gateway's client span, not the caller's span.
      this.#upstreamSpan ??= startUpstreamSpan(route, route.upstream.config.protocol, route.upstream.name, traced);
      this.#upstreamSpan?.inject(h);
    }
    switch (route.upstream.config.protocol) {
      case "grpc":
        h["content-type"] = "application/grpc";
        break;
      case "grpc-web":
        h["content-type"] = "application/grpc-web+proto";
        h["x-grpc-web"] = "1";
        break;
      case "connect":
        h["content-type"] = route.upstreamUnary ? "application/proto" : "application/connect+proto";
        h["connect-protocol-version"] = "1";
        break;
    }
    return h;
  }

  /**
   * One response message from the upstream, on its way to the client. A
   * promise: the upstream is not read until it settles (the client is slow,
   * or the route's rate holds the message back).
   */
  #send(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#done) return undefined;
    const governor = this.#governor;
    if (governor !== undefined) {
      const wait = governor.outboundDelay();
      if (wait > 0) return new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => this.#send(bytes));
      const limited = governor.outbound();
      if (limited !== undefined) {
        this.#fail(limited);
        return undefined;
      }
    }
    let payload = bytes;
    if (!this.#binary) {
      try {
        payload = this.#route.codec.encode(decodeBinary(this.#method.output, bytes), false, 0);
      } catch (e) {
        // The response decoder fails the call with this (and stops reading the upstream).
        throw new ConnectError(`the upstream's response is not a valid ${this.#method.output.typeName}: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
      }
    }
    this.#obs?.sent(payload.byteLength);
    const wire = this.#wire;
    if (wire.unary) {
      this.#unaryMessage = payload;
      return undefined;
    }
    const compression = this.#responseCompression;
    if (compression !== null && payload.byteLength >= this.#route.compressMinBytes) {
      return compression.compress(payload).then((z) => this.#write(encodeEnvelope(compressedFlag, z)));
    }
    return this.#write(encodeEnvelope(0, payload));
  }

  #write(frame: Buffer): Promise<void> | undefined {
    if (this.#done) return undefined;
    const x = this.#x;
    if (!x.headSent) x.respond(200, this.#head(), this.#wire.httpTrailers ? "trailers" : "body");
    const kind = this.#method.methodKind;
    if (kind === "server_streaming" || kind === "bidi_streaming") {
      const route = this.#route;
      const env = this.#env;
      const out = (this.#outbound ??= new OutboundQueue(x, route.stream, route.name, env.limits.overload, env.limits.stats, (e) => this.#abortWith(e, true)));
      if (out.push(frame)) return undefined;
      return new Promise<void>((resolve) => out.onReady(resolve));
    }
    // Unary and client streaming: the one response message, as a function's is written.
    if (x.write(frame)) return undefined;
    return new Promise<void>((resolve) => x.onDrain(resolve));
  }

  /** Response headers: the gateway's, the upstream's metadata, then the client protocol's. */
  #head(compressedBody = false): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = { "x-request-id": this.#requestId };
    copyMetadata(this.#upstreamHeaders, out);
    const c = this.#responseCompression;
    this.#wire.head(out, this.#binary, c !== null && (compressedBody || !this.#wire.unary) ? c.name : undefined);
    this.#env.cors.applyToResponse(headerValue(this.#x.headers.origin), out);
    return out;
  }

  /** The upstream's answer is complete: status and trailers, in the client's protocol. */
  #end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.#done) return;
    if (error !== undefined) return this.#fail(error, trailers);
    const x = this.#x;
    const wire = this.#wire;
    try {
      if (wire.unary) {
        let body = this.#unaryMessage;
        if (body === undefined) return this.#fail(new ConnectError("protocol error: the upstream answered a unary call without a message", Code.Internal));
        const c = this.#responseCompression;
        if (c !== null && body.byteLength >= this.#route.compressMinBytes) {
          void c.compress(body).then((z) => this.#writeUnary(z, true, trailers), (e: unknown) => this.#fail(e));
          return;
        }
        this.#writeUnary(body, false, trailers);
        return;
      }
      if (!x.headSent) x.respond(200, this.#head(), wire.httpTrailers ? "trailers" : "body");
      // Messages still batched or held go out before the end.
      this.#outbound?.flush();
      const end = wire.end(undefined, trailers, this.#binary);
      x.end(end.last, end.trailers);
    } catch (e) {
      this.#log.error({ err: e }, "proxied response could not be written");
      x.cancel();
      return this.#finish(new ConnectError("the response could not be written", Code.Internal));
    }
    this.#finish(undefined);
  }

  #writeUnary(body: Uint8Array, compressed: boolean, trailers: Metadata): void {
    if (this.#done) return;
    const head = this.#head(compressed);
    copyMetadata(trailers, head, "trailer-");
    head["content-length"] = body.byteLength;
    this.#x.respond(200, head, "body");
    this.#x.end(body);
    this.#finish(undefined);
  }

  /** Ends the call with an error, in the client's protocol, with the upstream's metadata. */
  #fail(e: unknown, trailers?: Metadata): void {
    if (this.#done) return;
    const error = e instanceof ConnectError ? e : this.#internal(e);
    const x = this.#x;
    if (x.clientGone) return this.#finish(error);
    try {
      if (this.#wire.unary && !x.headSent) {
        const out: OutgoingHttpHeaders = { "x-request-id": this.#requestId };
        const { status, body } = connectUnaryError(error, out, this.#upstreamHeaders, trailers, this.#route.codec.jsonOptions);
        this.#env.cors.applyToResponse(headerValue(x.headers.origin), out);
        x.respond(status, out, "body");
        x.end(body);
      } else if (!x.headSent && this.#wire.httpTrailers && isEmptyMetadata(this.#upstreamHeaders)) {
        // gRPC Trailers-Only, as FunctionCall answers an error before any response (see #endStream there).
        x.respond(200, Object.assign(this.#head(), this.#wire.end(error, trailers, this.#binary).trailers), "end");
      } else {
        if (!x.headSent) x.respond(200, this.#head(), this.#wire.httpTrailers ? "trailers" : "body");
        this.#outbound?.flush();
        const end = this.#wire.end(error, trailers, this.#binary);
        x.end(end.last, end.trailers);
      }
    } catch (w) {
      this.#log.error({ err: w }, "proxied error could not be written");
      x.cancel();
    }
    this.#finish(error);
  }

  #internal(e: unknown): ConnectError {
    this.#log.error({ err: e, rpc: this.#route.path }, "proxy route failed; the client gets INTERNAL");
    return new ConnectError(`internal error; the server log has the details under request id ${this.#requestId}`, Code.Internal);
  }

  get #log(): Logger {
    return this.#env.log.child({ reqId: this.#requestId });
  }

  #abortWith(error: ConnectError, write: boolean): void {
    if (this.#done) return;
    if (write && !this.#x.clientGone) this.#fail(error);
    else this.#finish(error);
  }

  #finish(error: ConnectError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    const env = this.#env;
    env.deadlines.remove(this);
    env.inFlight.end(this);
    // Cancels the upstream call if it is still running (RST_STREAM CANCEL).
    if (error !== undefined) {
      this.#cancel?.abort(error);
      const stream = this.#attemptStream;
      if (stream !== undefined && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }
    const body = this.#body;
    if (body !== undefined) {
      body.detach();
      if (!body.ended && !this.#x.clientGone) this.#x.stopReading();
    } else if (!this.#x.clientGone) {
      this.#x.stopReading();
    }
    this.#governor?.close();
    // An error status may wait behind responses the client is not reading: the queue then cancels the stream.
    this.#outbound?.close(error !== undefined);
    // No handler runs here: once the response has ended, the route slot and the stream slot go back.
    env.limits.admission.release(this.#route.admission);
    this.#x.release();
    const now = performance.now();
    const code = error === undefined ? 0 : error.code;
    this.#obs?.finished(code, now - this.#started);
    if (this.#forwardedAt !== 0) this.#route.upstream.stats?.finished(code, now - this.#forwardedAt);
    this.#upstreamSpan?.finished(code);
    if (env.logCalls) {
      const code = error === undefined ? "OK" : (Code[error.code] ?? error.code);
      env.log.info({ reqId: this.#requestId, rpc: this.#route.path, upstream: this.#route.upstream.name, code, ms: Math.round((performance.now() - this.#started) * 10) / 10 }, "rpc");
    }
  }
}
