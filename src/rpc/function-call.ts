import type { OutgoingHttpHeaders } from "node:http";
import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { context } from "@opentelemetry/api";
import type { Logger } from "pino";
import { rpcError, sharedError } from "../errors.js";
import type { FunctionRoute } from "../host/route-table.js";
import { armDue, Due, dueExpired, timedOut, type DueCall } from "../limits/call-due.js";
import type { Deadlined } from "../limits/deadline-timers.js";
import type { CallObserver } from "../observe/call-observer.js";
import { OutboundQueue } from "../limits/outbound-queue.js";
import { StreamGovernor } from "../limits/stream-governor.js";
import { negotiateCompression, type Compression } from "../protocol/compression.js";
import { compressedFlag, encodeEnvelope, envelopeHeaderBytes, writeEnvelopeHeader } from "../protocol/envelope.js";
import { connectUnaryError } from "../protocol/connect/connect-wire.js";
import type { RequestType } from "../protocol/content-type.js";
import { copyMetadata, headerValue, isEmptyMetadata } from "../protocol/metadata.js";
import { readClientTimeout } from "../protocol/timeout.js";
import type { Wire } from "../protocol/wire.js";
import type { CallEnv } from "./call-env.js";
import type { Exchange } from "./exchange.js";
import { CallContext, type ContextSource } from "./handler-context.js";
import { InboundMessages } from "./inbound-messages.js";
import { BadResponse } from "./method-codec.js";
import { RequestBody, type MessageSink } from "./request-body.js";
import type { RpcContext } from "./rpc-context.js";

/** ctx.signal's reason once a call has ended normally. */
const completed = sharedError(() => new ConnectError("the call is complete", Code.Canceled));
const clientGone = sharedError(() => new ConnectError("the client cancelled the call or went away", Code.Canceled));


/** How a Connect GET request carries its message, instead of a body. */
export interface QueryMessage {
  message: Uint8Array;
  compression: string | undefined;
}

/**
 * One call of a function route, from the parsed request head to the last
 * byte of its response, for every protocol and stream kind:
 *
 *   read the request message(s) (RequestBody) → invoke the handler with a
 *   lazy HandlerContext → encode each response message (MethodCodec) →
 *   write it framed for the protocol (Wire) → end with the status.
 *
 * The call ends at its deadline, when the client goes away, or at the drain
 * timeout, whatever the handler is doing: its result is then ignored, a
 * streaming handler is returned, and ctx.signal fires. Nothing is
 * allocated per call that the call does not use: the signal, the header
 * objects and the context values exist only once a handler asks for them,
 * and the deadline is a node in a shared timer list, not a timer.
 *
 * Limits: the dispatch admits the call first (Admission; a queued call
 * waits as a QueuedCall and runs once admitted). The deadline node also carries
 * maxDurationMs and firstMessageTimeoutMs. Streams get a StreamGovernor
 * when their route sets per-stream limits, and their responses go through
 * an OutboundQueue (bounded memory, slow-consumer policy). The route's slot
 * and the connection's stream slot are released only once the call is over
 * and the handler has returned.
 */
export class FunctionCall implements ContextSource, DueCall, MessageSink {
  // Deadlined: maintained by DeadlineTimers.
  deadlineAt = 0;
  deadlineList: Deadlined["deadlineList"] = undefined;
  deadlinePrev: Deadlined | undefined = undefined;
  deadlineNext: Deadlined | undefined = undefined;

  readonly method: DescMethod;
  readonly protocolName: string;
  readonly requestId: string;
  clientDeadlineAt: number | undefined;

  readonly #x: Exchange;
  readonly #route: FunctionRoute;
  readonly #wire: Wire;
  readonly #binary: boolean;
  readonly #env: CallEnv;
  readonly #started: number;
  #ctx: CallContext | undefined;
  #rpc: RpcContext | undefined;
  #log: Logger | undefined;
  /** Unary and server streaming: the one request message. */
  #input: Uint8Array | undefined;
  #controller: AbortController | undefined;
  #body: RequestBody | undefined;
  #inbound: InboundMessages<Message> | undefined;
  #output: AsyncIterator<unknown> | undefined;
  #responseCompression: Compression | null = null;
  /** Connect unary: the body went out compressed (Content-Encoding). */
  #compressedBody = false;
  #done = false;
  #endReason: ConnectError | undefined;
  /** Metrics and tracing of this call (src/observe/); undefined when neither is on. */
  #obs: CallObserver | undefined;
  // DueCall: what the deadline node waits for (src/limits/call-due.ts).
  due = Due.Deadline;
  dueEnd = 0;
  dueEndKind = Due.Deadline;
  #gotRequest = false;
  #governor: StreamGovernor | undefined;
  #outbound: OutboundQueue | undefined;
  #handlerRunning = false;
  #released = false;

  constructor(x: Exchange, route: FunctionRoute, type: RequestType, wire: Wire, env: CallEnv, requestId: string) {
    this.#x = x;
    this.#route = route;
    this.#wire = wire;
    this.#binary = type.binary;
    this.#env = env;
    this.#started = performance.now();
    this.method = route.method;
    this.protocolName = wire.protocol;
    this.requestId = requestId;
  }

  // --- ContextSource ----------------------------------------------------

  /** A logger that tags every line with the request id. */
  get log(): Logger {
    return (this.#log ??= this.#env.log.child({ reqId: this.requestId }));
  }

  /** What ctx.values.get(rpcContextKey) gives a handler; made when first asked for. */
  get rpc(): RpcContext {
    if (this.#rpc === undefined) {
      const call = this;
      this.#rpc = {
        requestId: this.requestId,
        draining: this.#env.draining,
        get log() {
          return call.log;
        },
      };
    }
    return this.#rpc;
  }

  get requestMethod(): string {
    return this.#x.method;
  }

  get requestHeaders(): Exchange["headers"] {
    return this.#x.headers;
  }

  url(): string {
    return `${this.#x.scheme}://${this.#x.authority ?? "localhost"}${this.#x.url}`;
  }

  upstreamClient<S extends DescService>(service: S, name: string): Client<S> {
    const timeoutMs = this.clientDeadlineAt === undefined ? undefined : Math.max(0, this.clientDeadlineAt - performance.now());
    return this.#env.upstreams.client(service, name, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      signal: this.signal(),
      requestId: this.requestId,
      // Node's object, not ctx.requestHeader: a Headers copy of every request header per call costs more than the lookups.
      requestHeader: this.requestHeaders,
      traceContext: this.#obs?.traceContext,
    });
  }

  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#done) this.#controller.abort(this.#endReason ?? completed());
    }
    return this.#controller.signal;
  }

  // --- Lifecycle ------------------------------------------------------

  /** Runs the call; `query` carries a Connect GET request's message. */
  run(query?: QueryMessage, queuedSince?: number): void {
    const x = this.#x;
    const env = this.#env;
    env.inFlight.begin(this);
    this.#obs = env.telemetry.serverCall(this.#route, this.#wire.protocol, x.headers, queuedSince);
    x.onClientGone(() => this.#abortWith(clientGone(), false));
    if (x.authority === undefined) {
      return this.#fail(new ConnectError("malformed request: unable to determine request authority", Code.InvalidArgument));
    }
    const route = this.#route;
    const wire = this.#wire;

    const timeout = readClientTimeout(x.headers, wire.timeoutHeader);
    if (timeout.error) return this.#fail(timeout.error);
    const { maxMs, defaultMs } = route.deadline;
    let deadlineMs: number;
    if (timeout.ms !== undefined) {
      deadlineMs = Math.min(timeout.ms, maxMs);
      this.clientDeadlineAt = this.#started + deadlineMs;
    } else {
      // The default deadline is enforced, but not presented to the handler
      // as the client's own (ctx.timeoutMs() stays undefined), so it is not
      // passed on upstream as if the client had asked for it.
      deadlineMs = Math.min(defaultMs, maxMs);
    }
    const stream = route.stream;
    const kind = route.method.methodKind;
    const firstMessage = query === undefined && (kind === "unary" || kind === "server_streaming") ? env.limits.firstMessageTimeoutMs : undefined;
    if (!armDue(this, env.deadlines, this.#started, deadlineMs, route, firstMessage)) return this.#fail(timedOut());

    const requested = query ? query.compression : headerValue(x.headers[wire.encodingHeader]);
    const negotiated = negotiateCompression(route.compression, requested, headerValue(x.headers[wire.acceptEncodingHeader]), wire.acceptEncodingHeader);
    if (negotiated.error) return this.#fail(negotiated.error);
    this.#responseCompression = negotiated.response;

    if (stream.governed && kind !== "unary") {
      this.#governor = new StreamGovernor(stream, route.name, { deadlines: env.deadlines, stats: env.limits.stats }, (e) => this.#abortWith(e, true));
    }
    if (query !== undefined) {
      this.#readQuery(query, negotiated.request);
    } else if (kind === "unary" || kind === "server_streaming") {
      this.#readSingle(negotiated.request);
    } else {
      this.#readStream(negotiated.request);
    }
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

  // --- Reading the request ---------------------------------------------

  #readSingle(compression: Compression | null): void {
    this.#body = new RequestBody(this.#x, { enveloped: !this.#wire.unary, limit: this.#route.readMaxBytes, compression }, this);
  }

  // MessageSink (unary and server streaming: exactly one request message).

  message(bytes: Uint8Array): void {
    if (this.#input !== undefined) return this.#fail(new ConnectError(`protocol error: received extra input message for ${this.#kindName()} method`, Code.Unimplemented));
    this.#input = bytes;
  }

  end(): void {
    if (this.#done) return;
    if (this.#input === undefined) return this.#fail(new ConnectError(`protocol error: missing input message for ${this.#kindName()} method`, Code.Unimplemented));
    // The request is complete only now (its message and the end of the
    // stream): the first-message timeout covers both, or a client could
    // park a call by never ending its side.
    this.#gotRequest = true;
    this.#invokeWith(this.#input);
  }

  fail(error: ConnectError): void {
    this.#fail(error);
  }

  #kindName(): string {
    return this.#route.method.methodKind === "unary" ? "unary" : "server-streaming";
  }

  #readQuery(query: QueryMessage, compression: Compression | null): void {
    if (compression === null) return this.#invokeWith(query.message);
    compression.decompress(query.message, this.#route.readMaxBytes).then((bytes) => this.#invokeWith(bytes), (e) => this.#fail(e));
  }

  #readStream(compression: Compression | null): void {
    const governor = this.#governor;
    const inbound = new InboundMessages<Message>({
      pause: () => this.#body?.pause(),
      resume: () => this.#body?.resume(),
      onReturn: () => this.#body?.detach(),
      ...(governor !== undefined && this.#route.stream.messagesPerSecondIn !== undefined ? { pace: () => governor.inboundDelay() } : {}),
    });
    this.#inbound = inbound;
    const codec = this.#route.codec;
    const binary = this.#binary;
    this.#body = new RequestBody(this.#x, { enveloped: true, limit: this.#route.readMaxBytes, compression }, {
      message: (bytes, size) => {
        this.#obs?.received(bytes.byteLength);
        if (governor !== undefined) {
          const limited = governor.inbound();
          if (limited !== undefined) return this.#fail(limited);
        }
        let message: Message;
        try {
          message = codec.parse(bytes, binary);
        } catch (e) {
          this.#body?.detach();
          inbound.fail(e as ConnectError);
          return;
        }
        inbound.push(message, size);
      },
      end: () => inbound.end(),
      fail: (e) => inbound.fail(e),
    });
    this.#invoke(inbound);
  }

  #invokeWith(bytes: Uint8Array): void {
    if (this.#done) return;
    this.#obs?.received(bytes.byteLength);
    let message: Message;
    try {
      message = this.#route.codec.parse(bytes, this.#binary);
    } catch (e) {
      return this.#fail(e);
    }
    this.#invoke(message);
  }

  // --- Running the handler ---------------------------------------------

  #invoke(input: Message | InboundMessages<Message>): void {
    // A stream reset before its handler starts (Rapid Reset) runs no handler.
    if (this.#x.clientGone) return this.#finish(clientGone());
    this.#ctx = new CallContext(this);
    const kind = this.#route.method.methodKind;
    let result: unknown;
    // A traced call runs its handler in the span's context, so that spans the handler makes are its children.
    const traced = this.#obs?.traceContext;
    this.#handlerRunning = true;
    try {
      const impl = this.#route.impl as (i: unknown, c: CallContext) => unknown;
      result = traced === undefined ? impl(input, this.#ctx) : context.with(traced, impl, undefined, input, this.#ctx);
    } catch (e) {
      this.#handlerRunning = false;
      return this.#fail(e);
    }
    if (kind === "unary" || kind === "client_streaming") {
      if (isThenable(result)) {
        result.then((v) => {
          this.#handlerReturned();
          this.#sendOne(v);
        }, (e) => {
          this.#handlerReturned();
          this.#fail(e);
        });
      } else {
        this.#handlerRunning = false;
        this.#sendOne(result);
      }
      return;
    }
    const iterable = result as AsyncIterable<unknown> | undefined;
    if (typeof iterable?.[Symbol.asyncIterator] !== "function") {
      this.#handlerRunning = false;
      return this.#fail(new Error(`${this.#route.source}: ${this.method.parent.typeName}.${this.method.localName} returned ${typeof result}, not an async iterable; write it as an async generator (async *${this.method.localName}(…) { yield … })`));
    }
    this.#output = iterable[Symbol.asyncIterator]();
    void (traced === undefined ? this.#pump(this.#output) : context.with(traced, this.#pump, this, this.#output));
  }

  /**
   * One response message, encoded and framed for the wire: an envelope
   * (whose header goes into the room the encoder left), or for Connect
   * unary the message itself. Compressed when the client accepts it and
   * the message is large enough; compression is async, so it returns a
   * promise then.
   */
  #encodeFrame(value: unknown): Buffer | Promise<Buffer> {
    const headroom = this.#wire.unary ? 0 : envelopeHeaderBytes;
    const out = this.#route.codec.encode(value, this.#binary, headroom);
    this.#obs?.sent(out.byteLength - headroom);
    const compression = this.#responseCompression;
    if (compression !== null && out.byteLength - headroom >= this.#route.compressMinBytes) {
      this.#compressedBody = true;
      return compression.compress(out.subarray(headroom)).then((z) => (headroom === 0 ? Buffer.from(z.buffer, z.byteOffset, z.byteLength) : encodeEnvelope(compressedFlag, z)));
    }
    if (headroom !== 0) writeEnvelopeHeader(out, 0);
    return out;
  }

  /** Unary and client-streaming: the one response, then the end, in one go. */
  #sendOne(value: unknown): void {
    if (this.#done) return;
    let frame: Buffer | Promise<Buffer>;
    try {
      frame = this.#encodeFrame(value);
    } catch (e) {
      return this.#fail(e);
    }
    if (Buffer.isBuffer(frame)) this.#writeOne(frame);
    else frame.then((f) => this.#writeOne(f), (e: unknown) => this.#fail(e));
  }

  #writeOne(frame: Buffer): void {
    if (this.#done) return;
    const x = this.#x;
    const wire = this.#wire;
    try {
      const head = this.#head(this.#compressedBody);
      const end = wire.end(undefined, this.#ctx?.setResponseTrailer, this.#binary);
      if (wire.unary) head["content-length"] = frame.byteLength;
      x.respond(200, head, wire.httpTrailers ? "trailers" : "body");
      x.end(end.last === undefined ? frame : Buffer.concat([frame, end.last]), end.trailers);
    } catch (e) {
      return this.#writeFailed(e);
    }
    this.#finish(undefined);
  }

  /**
   * Server and bidi streaming: pull a message only once the outbound queue
   * has room (and, paced, once the route's rate allows).
   */
  async #pump(it: AsyncIterator<unknown>): Promise<void> {
    const x = this.#x;
    const wire = this.#wire;
    const governor = this.#governor;
    let sent = 0;
    try {
      for (;;) {
        if (governor !== undefined) {
          const wait = governor.outboundDelay();
          if (wait > 0) {
            await new Promise((resolve) => setTimeout(resolve, wait));
            if (this.#done) return;
            continue;
          }
        }
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (e) {
          this.#handlerReturned();
          throw e;
        }
        if (r.done === true) this.#handlerReturned();
        if (this.#done) return;
        if (r.done === true) break;
        if (governor !== undefined) {
          const limited = governor.outbound();
          if (limited !== undefined) throw limited;
        }
        let frame: Buffer | Promise<Buffer>;
        try {
          frame = this.#encodeFrame(r.value);
        } catch (e) {
          if (e instanceof BadResponse) e.verb = `yielded (message #${sent + 1})`;
          throw e;
        }
        sent++;
        if (!Buffer.isBuffer(frame)) {
          frame = await frame;
          if (this.#done) return;
        }
        if (!x.headSent) x.respond(200, this.#head(false), wire.httpTrailers ? "trailers" : "body");
        const out = (this.#outbound ??= new OutboundQueue(x, this.#route.stream, this.#route.name, this.#env.limits.overload, this.#env.limits.stats, (e) => this.#abortWith(e, true)));
        if (!out.push(frame)) {
          await new Promise<void>((resolve) => out.onReady(resolve));
          if (this.#done) return;
        }
      }
    } catch (e) {
      return this.#fail(e);
    }
    this.#endStream(undefined);
  }

  // --- Ending ------------------------------------------------------------

  /** Response headers: the gateway's, the handler's, then the protocol's. */
  #head(compressed: boolean): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = { "x-request-id": this.requestId };
    const ctx = this.#ctx;
    copyMetadata(ctx?.setResponseHeader, out);
    const encoding = this.#responseCompression !== null && (compressed || !this.#wire.unary) ? this.#responseCompression.name : undefined;
    this.#wire.head(out, this.#binary, encoding);
    if (this.#wire.unary) copyMetadata(ctx?.setResponseTrailer, out, "trailer-");
    this.#env.cors.applyToResponse(this.#x.headers.origin, out);
    return out;
  }

  /**
   * Ends a streaming response (its head may not be out yet) with the status.
   * A gRPC error before any response is Trailers-Only: one HEADERS frame
   * that ends the stream, as gRPC servers answer it. Its headers and
   * trailers in two frames would leave the client a moment between them in
   * which it may end its request body short (Go's client does, once it has
   * the headers of an answer to a request it was still sending), and a
   * body shorter than its content-length is a malformed request, which
   * HTTP/2 answers with RST_STREAM PROTOCOL_ERROR instead of the status. A
   * handler that set response headers keeps them apart from its trailers.
   */
  #endStream(error: ConnectError | undefined): void {
    if (this.#done) return;
    const x = this.#x;
    const wire = this.#wire;
    try {
      if (!x.headSent) {
        if (error !== undefined && wire.httpTrailers && isEmptyMetadata(this.#ctx?.setResponseHeader)) {
          x.respond(200, Object.assign(this.#head(false), wire.end(error, this.#ctx?.setResponseTrailer, this.#binary).trailers), "end");
          return this.#finish(error);
        }
        x.respond(200, this.#head(false), wire.httpTrailers ? "trailers" : "body");
      }
      // Messages still batched or held go out before the end.
      this.#outbound?.flush();
      const end = wire.end(error, this.#ctx?.setResponseTrailer, this.#binary);
      x.end(end.last, end.trailers);
    } catch (e) {
      return this.#writeFailed(e);
    }
    this.#finish(error);
  }

  /** Ends the call with an error, in the call's protocol. */
  #fail(e: unknown): void {
    if (this.#done) return;
    const error = this.#toClientError(e);
    if (this.#x.clientGone) return this.#finish(error);
    if (this.#wire.unary && !this.#x.headSent) {
      try {
        const out: OutgoingHttpHeaders = { "x-request-id": this.requestId };
        const ctx = this.#ctx;
        const { status, body } = connectUnaryError(error, out, ctx?.setResponseHeader, ctx?.setResponseTrailer, this.#route.codec.jsonOptions);
        this.#env.cors.applyToResponse(this.#x.headers.origin, out);
        this.#x.respond(status, out, "body");
        this.#x.end(body);
      } catch (w) {
        return this.#writeFailed(w);
      }
      return this.#finish(error);
    }
    this.#endStream(error);
  }

  /**
   * Writing the response threw: a header the handler set is not valid on
   * the wire, or the stream closed under us. Answer without the handler's
   * metadata if nothing went out yet; otherwise cut the stream.
   */
  #writeFailed(e: unknown): void {
    const x = this.#x;
    const error = new ConnectError(`the response could not be written: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
    this.log.error({ err: e }, "rpc response could not be written");
    if (!x.headSent && !x.clientGone) {
      try {
        this.#ctx = undefined;
        if (this.#wire.unary) {
          const out: OutgoingHttpHeaders = { "x-request-id": this.requestId };
          const { status, body } = connectUnaryError(error, out, undefined, undefined);
          x.respond(status, out, "body");
          x.end(body);
        } else {
          const out: OutgoingHttpHeaders = { "x-request-id": this.requestId };
          this.#wire.head(out, this.#binary, undefined);
          x.respond(200, out, this.#wire.httpTrailers ? "trailers" : "body");
          const end = this.#wire.end(error, undefined, this.#binary);
          x.end(end.last, end.trailers);
        }
        return this.#finish(error);
      } catch {
        // fall through: nothing more can be said on this stream
      }
    }
    x.cancel();
    this.#finish(error);
  }

  /** Deadline, client gone, drain timeout: end now, then stop the handler. */
  #abortWith(error: ConnectError, write: boolean): void {
    if (this.#done) return;
    if (write && !this.#x.clientGone) this.#fail(error);
    else this.#finish(error);
  }

  /**
   * A ConnectError goes to the client as it is. Anything else a handler
   * throws becomes INTERNAL with only the request id; the error and its
   * stack go to the log.
   */
  #toClientError(e: unknown): ConnectError {
    if (e instanceof ConnectError) return e;
    if (e instanceof BadResponse) {
      const method = `${this.method.parent.typeName}.${this.method.name}`;
      const message = `${this.#route.source}: ${method} ${e.verb} a bad response: ${e.message}`;
      this.log.error({ code: "SLUICE_RPC_BAD_RESPONSE", file: this.#route.source, method, field: e.path, err: e }, message);
      return rpcError("SLUICE_RPC_BAD_RESPONSE", Code.Internal, { requestId: this.requestId });
    }
    this.log.error({ err: e }, "handler threw an error that is not a ConnectError; the client gets INTERNAL");
    return rpcError("SLUICE_RPC_INTERNAL", Code.Internal, { requestId: this.requestId });
  }

  /** Frees what the call held, once; fires ctx.signal; logs the call. */
  #finish(error: ConnectError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#endReason = error;
    const env = this.#env;
    env.deadlines.remove(this);
    env.inFlight.end(this);
    if (error !== undefined && this.#rpc !== undefined) this.#rpc.code = error.code;
    this.#controller?.abort(error ?? completed());
    const body = this.#body;
    if (body !== undefined) {
      body.detach();
      if (!body.ended && !this.#x.clientGone) this.#x.stopReading();
    } else if (!this.#x.clientGone) {
      this.#x.stopReading();
    }
    this.#inbound?.fail(error ?? completed());
    this.#governor?.close();
    // An error status may wait behind responses the client is not reading: the queue then cancels the stream.
    this.#outbound?.close(error !== undefined);
    const output = this.#output;
    if (output !== undefined && error !== undefined && this.#handlerRunning) {
      // The generator may be awaiting; return() settles when it next yields,
      // and only then has the handler returned.
      const returned = output.return?.();
      if (returned === undefined) this.#handlerReturned();
      else returned.then(() => this.#handlerReturned(), () => this.#handlerReturned());
    }
    this.#obs?.finished(error === undefined ? 0 : error.code, performance.now() - this.#started);
    this.#releaseIfOver();
    if (env.logCalls) {
      const code = error === undefined ? "OK" : (Code[error.code] ?? error.code);
      env.log.info({ reqId: this.requestId, rpc: this.#route.path, code, ms: Math.round((performance.now() - this.#started) * 10) / 10 }, "rpc");
    }
  }

  #handlerReturned(): void {
    if (!this.#handlerRunning) return;
    this.#handlerRunning = false;
    this.#releaseIfOver();
  }

  /** Once the call is over and its handler has returned: the route slot and the stream slot go back. */
  #releaseIfOver(): void {
    if (!this.#done || this.#handlerRunning || this.#released) return;
    this.#released = true;
    this.#env.limits.admission.release(this.#route.admission);
    this.#x.release();
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as PromiseLike<unknown>).then === "function";
}
