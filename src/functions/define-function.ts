import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { RouteLimitsInput } from "../limits/limit-options.js";

/**
 * Per-function options. Every one falls back to the gateway config. The
 * flow limits (maxConcurrent, rate, messagesPerSecond, ...) apply to each
 * method of the file, `methods` sets them for one method; the config's
 * `limits` for the service or the method win over both, so an operator can
 * tighten a function without a deploy (README.md, "Limits").
 */
export interface FunctionOptions extends RouteLimitsInput {
  /**
   * Longest deadline a client may ask for, in milliseconds. A longer one is
   * lowered to this value; the handler's `ctx.timeoutMs()` shows the result.
   * Default: config `maxTimeoutMs`.
   */
  maxTimeoutMs?: number;
  /**
   * Deadline for calls that arrive without one, in milliseconds.
   * Default: config `defaultTimeoutMs`.
   */
  defaultTimeoutMs?: number;
  /** Largest request message accepted, in bytes. Default: config `readMaxBytes`. */
  readMaxBytes?: number;
  /** Largest response message sent, in bytes. Default: config `writeMaxBytes`. */
  writeMaxBytes?: number;
  /**
   * Per-message compression of this function's requests and responses.
   * `false` accepts and sends identity only. Default: config `compression`.
   */
  compression?: false | { encodings?: ("gzip" | "br")[]; minBytes?: number };
  /** Flow limits of single methods, by the method's name in the implementation (`greet`) or in the proto (`Greet`). */
  methods?: Record<string, RouteLimitsInput>;
}

interface Common<S extends DescService> {
  /** The service descriptor generated from proto/, e.g. `GreetService`. */
  service: S;
  options?: FunctionOptions;
}

/** A definition that owns the whole service. */
export interface WholeServiceDefinition<S extends DescService> extends Common<S> {
  /**
   * The methods, in Connect's `ServiceImpl` shape: unary returns a message,
   * server streaming is an `async function*`, client streaming takes an
   * `AsyncIterable`, bidi does both. Methods left out answer UNIMPLEMENTED.
   */
  implementation: Partial<ServiceImpl<S>>;
  split?: false;
}

/**
 * A definition that implements some methods of a service whose other methods
 * live in other files. Every file of a split service must say `split: true`.
 */
export interface SplitServiceDefinition<S extends DescService> extends Common<S> {
  implementation: Partial<ServiceImpl<S>>;
  split: true;
}

const brand = Symbol.for("sluice.function-definition.v1");

/** What `defineFunction` returns; the loader accepts nothing else. */
export type FunctionDefinition<S extends DescService = DescService> = (
  | WholeServiceDefinition<S>
  | SplitServiceDefinition<S>
) & { readonly [brand]: true };

/**
 * Declares a Sluice function: the default export of a file in `functions/`.
 *
 * ```ts
 * import { defineFunction } from "sluice";
 * import { GreetService } from "../proto/gen/greet/v1/greet_pb.js";
 *
 * export default defineFunction({
 *   service: GreetService,
 *   implementation: {
 *     greet(req) { return { greeting: `Hello, ${req.name}!` }; },
 *   },
 * });
 * ```
 */
export function defineFunction<S extends DescService>(
  definition: WholeServiceDefinition<S> | SplitServiceDefinition<S>,
): FunctionDefinition<S> {
  return Object.freeze({ ...definition, [brand]: true as const });
}

/**
 * True for values made by `defineFunction`. The brand is a registered symbol,
 * so a definition made by another copy of this module (a function bundle
 * importing "sluice" from dist/ while the host runs from src/) still counts.
 */
export function isFunctionDefinition(value: unknown): value is FunctionDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
