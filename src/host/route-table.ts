import type { DescMethod } from "@bufbuild/protobuf";
import type { RouteStats } from "../observe/rpc-metrics.js";
import type { Compression } from "../protocol/compression.js";
import type { MethodCodec } from "../rpc/method-codec.js";
import type { RetryPolicy } from "../upstream/upstream-config.js";
import type { Upstream } from "../upstream/upstream.js";

/** The deadline bounds of one route. */
export interface DeadlinePolicy {
  /** A client deadline above this is lowered to it. */
  maxMs: number;
  /** The deadline of calls that send none (itself capped by maxMs). */
  defaultMs: number;
}

/** One RPC path served by a function (or a built-in service). */
export interface FunctionRoute {
  kind: "function";
  /** "/greet.v1.GreetService/Greet" */
  path: string;
  method: DescMethod;
  /** The implementation, bound to its object: (request | requests, ctx) => … */
  impl: (input: never, ctx: never) => unknown;
  codec: MethodCodec;
  readMaxBytes: number;
  deadline: DeadlinePolicy;
  /** Message encodings accepted and sent, in order of preference. */
  compression: readonly Compression[];
  /** Response messages smaller than this are sent uncompressed. */
  compressMinBytes: number;
  /** Connect GET is allowed (the method has no side effects). */
  allowGet: boolean;
  /** Where the implementation lives: a function file, or "(built-in)". */
  source: string;
  /** The path's counters, set when the route is published; undefined while metrics are off. */
  stats?: RouteStats;
}

/** One RPC path served by an upstream (config `routes`). */
export interface ProxyRoute extends Omit<FunctionRoute, "kind" | "impl"> {
  kind: "proxy";
  upstream: Upstream;
  /** The upstream speaks Connect and the method is unary: one unframed message each way. */
  upstreamUnary: boolean;
  writeMaxBytes: number;
  /** Lower-case request headers passed on; undefined: every end-to-end header. */
  forwardHeaders: string[] | undefined;
  setHeaders: Record<string, string>;
  retry: Partial<RetryPolicy>;
  /** The upstream's retry policy with the route's overrides. */
  retryPolicy: RetryPolicy;
}

export type Route = FunctionRoute | ProxyRoute;

/**
 * The RPC paths currently served. Hot reload replaces the table as a whole;
 * a call looks its route up once, when it arrives, and keeps that route
 * (and the function version behind it) until it ends.
 */
export class RouteTable {
  #routes: ReadonlyMap<string, Route> = new Map();

  get(path: string): Route | undefined {
    return this.#routes.get(path);
  }

  list(): Route[] {
    return [...this.#routes.values()];
  }

  replace(routes: Iterable<Route>): void {
    const next = new Map<string, Route>();
    for (const r of routes) next.set(r.path, r);
    this.#routes = next;
  }
}
