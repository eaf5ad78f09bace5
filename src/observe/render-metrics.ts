import promClient from "prom-client";
import type { MetricFamily } from "./metric-families.js";

// Kept apart from metric-families.ts, which the request path's counters
// import: prom-client is loaded only by the admin listener and the runtime
// metrics, so a gateway without metrics does not load it.

export const prometheusContentType = promClient.Registry.PROMETHEUS_CONTENT_TYPE;
export const openMetricsContentType = promClient.Registry.OPENMETRICS_CONTENT_TYPE;

/**
 * The text of a scrape: the families of every process (one list per
 * worker, or one), summed per series by prom-client's aggregator, in the
 * Prometheus text format or OpenMetrics.
 */
export async function renderMetrics(perProcess: MetricFamily[][], openMetrics: boolean): Promise<string> {
  // prom-client writes an OpenMetrics counter as "<name>_total" from a family
  // named without the suffix; its JSON names counters with it.
  const lists = openMetrics ? perProcess.map((families) => families.map(withoutTotalSuffix)) : perProcess;
  // Its types omit aggregate's second parameter, the content type of the registry it returns.
  const aggregate = promClient.AggregatorRegistry.aggregate as unknown as (lists: MetricFamily[][], type: string) => promClient.Registry;
  const registry = aggregate(lists, openMetrics ? openMetricsContentType : prometheusContentType);
  return registry.metrics();
}

function withoutTotalSuffix(family: MetricFamily): MetricFamily {
  if (family.type !== "counter" || !family.name.endsWith("_total")) return family;
  const name = family.name.slice(0, -"_total".length);
  return { ...family, name, values: family.values.map((v) => (v.metricName === family.name ? { value: v.value, labels: v.labels } : v)) };
}
