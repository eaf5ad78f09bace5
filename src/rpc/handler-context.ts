import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type Client, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { IncomingHttpHeaders } from "node:http";
import { rpcContextKey, type RpcContext } from "./rpc-context.js";

/** What a handler context reads from its call. */
export interface ContextSource {
  readonly method: DescMethod;
  readonly requestMethod: string;
  readonly protocolName: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly rpc: RpcContext;
  /** The client's deadline as an absolute performance.now() time; undefined if it set none. */
  readonly clientDeadlineAt: number | undefined;
  url(): string;
  /** The call's AbortSignal, created on first use. */
  signal(): AbortSignal;
  /** A client on a configured upstream, carrying this call's deadline, cancellation and headers. */
  upstreamClient<S extends DescService>(service: S, name: string): Client<S>;
}

/**
 * Connect's HandlerContext for one call, built lazily: request headers,
 * response headers and trailers, the signal and the context values cost
 * nothing until a handler reads them, which most unary handlers never do.
 */
export class CallContext implements HandlerContext {
  readonly #call: ContextSource;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;

  constructor(call: ContextSource) {
    this.#call = call;
  }

  get method(): DescMethod {
    return this.#call.method;
  }

  get service(): DescService {
    return this.#call.method.parent;
  }

  get requestMethod(): string {
    return this.#call.requestMethod;
  }

  get protocolName(): string {
    return this.#call.protocolName;
  }

  get url(): string {
    return this.#call.url();
  }

  get signal(): AbortSignal {
    return this.#call.signal();
  }

  /** The time left of the client's deadline, in ms; undefined when the client set none. */
  readonly timeoutMs = (): number | undefined => {
    const at = this.#call.clientDeadlineAt;
    return at === undefined ? undefined : at - performance.now();
  };

  get requestHeader(): Headers {
    return (this.#requestHeader ??= toWebHeaders(this.#call.requestHeaders));
  }

  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  /**
   * A typed client for `service` on the upstream configured as `name`, on
   * its pooled connections. Its calls carry this call's remaining deadline,
   * end when this call ends, and pass on x-request-id, traceparent and the
   * upstream's forwardHeaders. Throws SLUICE_UPSTREAM_UNKNOWN for a name
   * the config does not declare.
   */
  upstream<S extends DescService>(service: S, name: string): Client<S> {
    return this.#call.upstreamClient(service, name);
  }

  get values(): ContextValues {
    return (this.#values ??= createContextValues().set(rpcContextKey, this.#call.rpc));
  }

  /** The response headers a handler set, if it touched them. */
  get setResponseHeader(): Headers | undefined {
    return this.#responseHeader;
  }

  /** The response trailers a handler set, if it touched them. */
  get setResponseTrailer(): Headers | undefined {
    return this.#responseTrailer;
  }
}

/** Node's request headers as WHATWG Headers, without HTTP/2 pseudo-headers. */
function toWebHeaders(node: IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const key in node) {
    if (key.charCodeAt(0) === 58 /* ":" */) continue;
    const v = node[key];
    if (v === undefined) continue;
    if (typeof v === "string") h.append(key, v);
    else for (const e of v) h.append(key, e);
  }
  return h;
}
