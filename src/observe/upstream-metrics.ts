import type { UpstreamRegistry } from "../upstream/upstream-registry.js";
import { codeCount, handlingBuckets } from "./call-stats.js";
import { counter, gauge, histogramSamples, type MetricFamily, type MetricSample } from "./metric-families.js";
import { codeNames } from "./rpc-metrics.js";

/**
 * The upstreams' metric families, read at scrape time from their state
 * (pools, connections, health, the counters src/upstream keeps) and their
 * UpstreamStats (latency, outcomes).
 */
export function upstreamFamilies(upstreams: UpstreamRegistry): MetricFamily[] {
  const calls: MetricSample[] = [];
  const handled: MetricSample[] = [];
  const retries: MetricSample[] = [];
  const throttled: MetricSample[] = [];
  const connectFailures: MetricSample[] = [];
  const ejections: MetricSample[] = [];
  const connections: MetricSample[] = [];
  const activeStreams: MetricSample[] = [];
  const maxStreams: MetricSample[] = [];
  const queued: MetricSample[] = [];
  const healthy: MetricSample[] = [];
  const latency: MetricSample[] = [];
  for (const [name, s] of Object.entries(upstreams.state())) {
    const labels = { upstream: name };
    calls.push({ labels, value: s.calls });
    retries.push({ labels, value: s.retries });
    throttled.push({ labels, value: s.retriesThrottled });
    connectFailures.push({ labels, value: s.connectFailures });
    ejections.push({ labels, value: s.ejections });
    for (const e of s.endpoints) {
      const at = { upstream: name, endpoint: e.address };
      connections.push({ labels: at, value: e.connections.length });
      activeStreams.push({ labels: at, value: e.activeStreams });
      maxStreams.push({ labels: at, value: e.connections.reduce((m, c) => Math.max(m, c.activeStreams), 0) });
      queued.push({ labels: at, value: e.queued });
      healthy.push({ labels: at, value: e.health === "ejected" ? 0 : 1 });
    }
    const stats = upstreams.get(name).stats;
    if (stats !== undefined) {
      for (let c = 0; c < codeCount; c++) if (stats.codes[c] !== 0) handled.push({ labels: { ...labels, grpc_code: codeNames[c]! }, value: stats.codes[c]! });
      histogramSamples("sluice_upstream_call_seconds", labels, handlingBuckets, stats.latency, stats.latencySeconds, latency);
    }
  }
  return [
    counter("sluice_upstream_calls_total", "Calls made to the upstream (first attempts), by proxy routes and ctx.upstream.", calls),
    counter("sluice_upstream_handled_total", "Calls to the upstream completed, by status code (after retries).", handled),
    { name: "sluice_upstream_call_seconds", help: "Time from a call's first attempt to the end of the upstream's response.", type: "histogram", aggregator: "sum", values: latency },
    counter("sluice_upstream_retries_total", "Attempts after the first (retries).", retries),
    counter("sluice_upstream_retries_throttled_total", "Retries the retry budget refused.", throttled),
    counter("sluice_upstream_connect_failures_total", "Connections to an endpoint that could not be made.", connectFailures),
    counter("sluice_upstream_ejections_total", "Times an endpoint was ejected by outlier detection.", ejections),
    gauge("sluice_upstream_connections", "HTTP/2 connections open to the endpoint.", connections),
    gauge("sluice_upstream_active_streams", "Calls (HTTP/2 streams) open to the endpoint.", activeStreams),
    gauge("sluice_upstream_streams_per_connection_max", "Open streams on the endpoint's busiest connection.", maxStreams, "max"),
    gauge("sluice_upstream_queued_calls", "Calls waiting for a connection or a free stream to the endpoint.", queued),
    gauge("sluice_upstream_endpoint_healthy", "1 while the endpoint takes calls, 0 while outlier detection has ejected it.", healthy, "min"),
  ];
}
