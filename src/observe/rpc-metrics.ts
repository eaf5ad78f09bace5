import { Code } from "@connectrpc/connect";
import type { Route } from "../host/route-table.js";
import type { RpcProtocol } from "../protocol/content-type.js";
import { CallStats, codeCount, handlingBuckets, streamBuckets } from "./call-stats.js";
import { counter, gauge, histogramSamples, type MetricFamily, type MetricSample } from "./metric-families.js";

/** go-grpc-prometheus's grpc_type values. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream" | "unknown";

/** The label value of every path no route serves (bounded cardinality), as OpenTelemetry names unknown methods. */
export const otherLabel = "_OTHER";

/** Distinct routes counted at most; past it (hot reload churning names) new ones count under _OTHER. */
const maxRoutes = 10_000;

const protocols: readonly RpcProtocol[] = ["grpc", "grpc-web", "connect"];

/** The counters of one RPC path, per protocol, kept across reloads so that counters never go back. */
export class RouteStats {
  readonly grpc: CallStats;
  readonly grpcWeb: CallStats;
  readonly connect: CallStats;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly type: GrpcType,
  ) {
    const streaming = type !== "unary" && type !== "unknown";
    this.grpc = new CallStats(streaming);
    this.grpcWeb = new CallStats(streaming);
    this.connect = new CallStats(streaming);
  }

  of(protocol: RpcProtocol): CallStats {
    return protocol === "grpc" ? this.grpc : protocol === "connect" ? this.connect : this.grpcWeb;
  }
}

/** Go's names of the status codes (grpc_code), as go-grpc-prometheus and Connect spell them. */
export const codeNames: readonly string[] = Array.from({ length: codeCount }, (_, c) => (c === 0 ? "OK" : Code[c]!));

/**
 * Every route's counters, by path, and their metric families at scrape
 * time. A route gets its RouteStats when the route table is published
 * (route.stats), so a call finds its counters with one property read.
 */
export class RpcMetrics {
  readonly #byPath = new Map<string, RouteStats>();
  /** Calls to paths no route serves. */
  readonly other = new RouteStats(otherLabel, otherLabel, "unknown");
  #served: readonly Route[] = [];

  /** The counters of `route`'s path (the same object for every version of the route). */
  forRoute(route: Route): RouteStats {
    let stats = this.#byPath.get(route.path);
    if (stats === undefined) {
      if (this.#byPath.size >= maxRoutes) return this.other;
      stats = new RouteStats(route.method.parent.typeName, route.method.name, grpcType(route.method.methodKind));
      this.#byPath.set(route.path, stats);
    }
    return stats;
  }

  /** The routes served now (sluice_route_info; counters of routes no longer served stay). */
  setServed(routes: readonly Route[]): void {
    this.#served = routes;
  }

  served(): readonly Route[] {
    return this.#served;
  }

  /** Every route's counters, the unknown paths' last. */
  all(): RouteStats[] {
    return [...this.#byPath.values(), this.other];
  }

  families(): MetricFamily[] {
    const started: MetricSample[] = [];
    const handled: MetricSample[] = [];
    const received: MetricSample[] = [];
    const sent: MetricSample[] = [];
    const bytesIn: MetricSample[] = [];
    const bytesOut: MetricSample[] = [];
    const open: MetricSample[] = [];
    const rejected: MetricSample[] = [];
    const deadline: MetricSample[] = [];
    const cancelled: MetricSample[] = [];
    const handling: MetricSample[] = [];
    const lifetimes: MetricSample[] = [];
    for (const route of this.all()) {
      for (const protocol of protocols) {
        const s = route.of(protocol);
        if (s.started === 0) continue;
        const labels = { grpc_service: route.service, grpc_method: route.method, grpc_type: route.type, protocol };
        started.push({ labels, value: s.started });
        for (let c = 0; c < codeCount; c++) {
          if (s.codes[c] !== 0) handled.push({ labels: { ...labels, grpc_code: codeNames[c]! }, value: s.codes[c]! });
        }
        received.push({ labels, value: s.messagesIn });
        sent.push({ labels, value: s.messagesOut });
        bytesIn.push({ labels, value: s.bytesIn });
        bytesOut.push({ labels, value: s.bytesOut });
        open.push({ labels, value: s.started - s.finishedCount });
        rejected.push({ labels, value: s.rejected });
        deadline.push({ labels, value: s.codes[Code.DeadlineExceeded]! });
        cancelled.push({ labels, value: s.codes[Code.Canceled]! });
        histogramSamples("grpc_server_handling_seconds", labels, handlingBuckets, s.handling, s.handlingSeconds, handling);
        if (s.lifetimes !== undefined) histogramSamples("sluice_rpc_stream_duration_seconds", labels, streamBuckets, s.lifetimes, s.lifetimeSeconds, lifetimes);
      }
    }
    const info = this.#served.map((r): MetricSample => ({
      labels: { grpc_service: r.method.parent.typeName, grpc_method: r.method.name, grpc_type: grpcType(r.method.methodKind), kind: r.kind, source: r.source },
      value: 1,
    }));
    return [
      counter("grpc_server_started_total", "RPCs started on the server, per route and protocol.", started),
      counter("grpc_server_handled_total", "RPCs completed on the server, by status code.", handled),
      counter("grpc_server_msg_received_total", "Messages received from clients (a unary call counts one).", received),
      counter("grpc_server_msg_sent_total", "Messages sent to clients (a unary call counts one).", sent),
      { name: "grpc_server_handling_seconds", help: "Time from a call's arrival to its end (for streams, their lifetime).", type: "histogram", aggregator: "sum", values: handling },
      counter("sluice_rpc_received_bytes_total", "Bytes of request messages, uncompressed, without framing.", bytesIn),
      counter("sluice_rpc_sent_bytes_total", "Bytes of response messages, uncompressed, without framing.", bytesOut),
      gauge("sluice_rpc_open_calls", "Calls in progress (for streaming methods: open streams).", open),
      { name: "sluice_rpc_stream_duration_seconds", help: "Lifetime of streaming calls, in buckets up to hours.", type: "histogram", aggregator: "sum", values: lifetimes },
      counter("sluice_rpc_deadline_exceeded_total", "Calls that ended with DEADLINE_EXCEEDED (the gateway's deadline or the handler's).", deadline),
      counter("sluice_rpc_cancelled_total", "Calls that ended with CANCELLED (mostly clients that went away).", cancelled),
      counter("sluice_rpc_rejected_total", "Calls refused before they ran (shutdown began, flow limits).", rejected),
      gauge("sluice_route_info", "One series per route served now: its kind (function, proxy) and where it lives.", info, "max"),
    ];
  }
}

export function grpcType(kind: string): GrpcType {
  switch (kind) {
    case "unary":
      return "unary";
    case "client_streaming":
      return "client_stream";
    case "server_streaming":
      return "server_stream";
    case "bidi_streaming":
      return "bidi_stream";
    default:
      return "unknown";
  }
}
