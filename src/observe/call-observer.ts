import type { Context } from "@opentelemetry/api";

/**
 * What a call (FunctionCall, ProxyCall) tells about itself while it runs:
 * each message in and out (bytes uncompressed, without framing) and its
 * end, with the status code (0 for OK) and how long it took.
 *
 * Untraced calls are observed by their route's shared CallStats (no
 * allocation per call); traced ones by a TracedCall that also records the
 * span. A call with neither has no observer at all.
 */
export interface CallObserver {
  /** The call's span as the parent of what it calls (ctx.upstream, a proxy's upstream call); undefined when untraced. */
  readonly traceContext: Context | undefined;
  received(bytes: number): void;
  sent(bytes: number): void;
  finished(code: number, ms: number): void;
}
