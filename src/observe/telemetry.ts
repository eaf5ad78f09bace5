import type { IncomingHttpHeaders } from "node:http";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { Context } from "@opentelemetry/api";
import type promClient from "prom-client";
import type { Route } from "../host/route-table.js";
import type { GatewayLimits } from "../limits/gateway-limits.js";
import type { RpcProtocol } from "../protocol/content-type.js";
import type { UpstreamProtocol } from "../upstream/upstream-config.js";
import type { UpstreamRegistry } from "../upstream/upstream-registry.js";
import type { CallObserver } from "./call-observer.js";
import { limitFamilies } from "./limit-metrics.js";
import type { MetricFamily } from "./metric-families.js";
import { RpcMetrics } from "./rpc-metrics.js";
import { registeredTracer, traceRefusal, TracedCall, UpstreamSpan, type SpanTarget } from "./tracing.js";
import { upstreamFamilies } from "./upstream-metrics.js";
import { UpstreamStats } from "./upstream-stats.js";

export interface TelemetryOptions {
  /** Count calls per route (the admin listener serves them, or the primary of --workers collects them). */
  metrics: boolean;
  /** Make spans when an OpenTelemetry SDK is registered (config tracing "auto"); false never looks. */
  tracing: boolean;
}

/**
 * What the gateway observes about its calls: per-route counters (metrics)
 * and spans (tracing). The request path asks it once per call for an
 * observer (serverCall); everything else is read at scrape time.
 */
export class Telemetry {
  readonly metrics: RpcMetrics | undefined;
  readonly tracing: boolean;
  readonly #upstreams: UpstreamRegistry;
  readonly #limits: GatewayLimits;
  /**
   * prom-client's runtime metrics (event loop, heap, GC, handles), collected
   * at scrape time. prom-client is imported only when metrics are on; its
   * collectors start observing once it has loaded, a few ms after start.
   */
  readonly #runtime: Promise<promClient.Registry> | undefined;
  /** The services served now (tracing only): a refused path of one of them names its service. */
  #services: ReadonlySet<string> = new Set();


  constructor(opts: TelemetryOptions, upstreams: UpstreamRegistry, limits: GatewayLimits) {
    this.tracing = opts.tracing;
    this.#upstreams = upstreams;
    this.#limits = limits;
    if (opts.metrics) {
      this.metrics = new RpcMetrics();
      for (const name of upstreams.names()) upstreams.get(name).stats = new UpstreamStats();
      this.#runtime = import("prom-client").then(({ default: prom }) => {
        const registry = new prom.Registry();
        prom.collectDefaultMetrics({ register: registry });
        return registry;
      });
    }
  }

  /**
   * The observer of a call that starts now on `route`, or undefined when
   * nothing is observed. Untraced calls share their route's CallStats;
   * only a traced call allocates (its span, which starts at `queuedSince`
   * for a call that waited in its route's queue).
   */
  serverCall(route: Route, protocol: RpcProtocol, headers: IncomingHttpHeaders, queuedSince?: number): CallObserver | undefined {
    const stats = route.stats?.of(protocol);
    stats?.start();
    if (this.tracing) {
      const tracer = registeredTracer();
      if (tracer !== undefined) return new TracedCall(tracer, spanTarget(route), protocol, headers, stats, queuedSince);
    }
    return stats;
  }

  get upstreams(): UpstreamRegistry {
    return this.#upstreams;
  }

  /**
   * A call whose client went away while it waited in its route's queue
   * since `arrivedAt` (performance.now() time): started, then CANCELLED.
   */
  cancelledWaiting(route: Route, protocol: RpcProtocol, headers: IncomingHttpHeaders, error: ConnectError, arrivedAt: number): void {
    const metrics = this.metrics;
    if (metrics !== undefined) {
      const stats = (route.stats ?? metrics.forRoute(route)).of(protocol);
      stats.start();
      stats.finished(Code.Canceled, performance.now() - arrivedAt);
    }
    if (this.tracing) {
      const tracer = registeredTracer();
      if (tracer !== undefined) traceRefusal(tracer, spanTarget(route), protocol, headers, error, arrivedAt);
    }
  }

  /**
   * A call on `route` answered with `error` before it ran: draining, a flow
   * limit, overload shedding, or the end of its wait in the queue (then
   * `arrivedAt`, the performance.now() time it arrived).
   */
  refused(route: Route, protocol: RpcProtocol, headers: IncomingHttpHeaders, error: ConnectError, arrivedAt?: number): void {
    const metrics = this.metrics;
    if (metrics !== undefined) (route.stats ?? metrics.forRoute(route)).of(protocol).refused(error.code);
    if (this.tracing) {
      const tracer = registeredTracer();
      if (tracer !== undefined) traceRefusal(tracer, spanTarget(route), protocol, headers, error, arrivedAt);
    }
  }

  /** A call to `path` ("/pkg.Service/Method", no query), which no route serves, answered with `error` (UNIMPLEMENTED). */
  unknownPath(path: string, protocol: RpcProtocol, headers: IncomingHttpHeaders, error: ConnectError): void {
    this.metrics?.other.of(protocol).refused(error.code);
    if (this.tracing) {
      const tracer = registeredTracer();
      if (tracer === undefined) return;
      const original = path.slice(1);
      const slash = original.lastIndexOf("/");
      const service = slash > 0 && this.#services.has(original.slice(0, slash)) ? original.slice(0, slash) : undefined;
      traceRefusal(tracer, { original, service }, protocol, headers, error, undefined);
    }
  }

  /** Gives the routes about to be served their counters. */
  publish(routes: readonly Route[]): void {
    if (this.tracing) this.#services = new Set(routes.map((r) => r.method.parent.typeName));
    const metrics = this.metrics;
    if (metrics === undefined) return;
    for (const r of routes) r.stats ??= metrics.forRoute(r);
    metrics.setServed(routes);
  }

  /** Every metric family of this process, for a scrape. */
  async families(): Promise<MetricFamily[]> {
    if (this.metrics === undefined) return [];
    const runtime = (await (await this.#runtime!).getMetricsAsJSON()) as unknown as MetricFamily[];
    return [...this.metrics.families(), ...limitFamilies(this.#limits), ...upstreamFamilies(this.#upstreams), ...runtime];
  }
}

/** The client span of a call to `upstream`, child of `parent`; undefined when no SDK is registered. */
export function startUpstreamSpan(route: { method: Route["method"] }, protocol: UpstreamProtocol, upstream: string, parent: Context): UpstreamSpan | undefined {
  const tracer = registeredTracer();
  if (tracer === undefined) return undefined;
  return new UpstreamSpan(tracer, spanTarget(route), protocol === "connect" ? "connect" : "grpc", upstream, parent);
}

function spanTarget(route: { method: Route["method"] }): SpanTarget {
  const m = route.method;
  return { service: m.parent.typeName, method: m.name, streaming: m.methodKind !== "unary" };
}
