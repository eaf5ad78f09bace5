/** One sample of a metric family, as prom-client's JSON form has it. */
export interface MetricSample {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: name_bucket, name_sum, name_count. */
  metricName?: string;
}

/**
 * One metric family in prom-client's JSON form (what
 * Registry.getMetricsAsJSON returns, and what workers send the primary),
 * so that Sluice's own metrics, prom-client's runtime metrics and every
 * worker's are merged and written by the same code.
 */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** How the families of several workers combine (prom-client's aggregators). */
  aggregator: "sum" | "max" | "min" | "average" | "first" | "omit";
  values: MetricSample[];
}

export function counter(name: string, help: string, values: MetricSample[]): MetricFamily {
  return { name, help, type: "counter", aggregator: "sum", values };
}

export function gauge(name: string, help: string, values: MetricSample[], aggregator: MetricFamily["aggregator"] = "sum"): MetricFamily {
  return { name, help, type: "gauge", aggregator, values };
}

/** Histogram samples from per-bucket counts (not cumulative; the last is +Inf) and the sum. */
export function histogramSamples(name: string, labels: Record<string, string>, bounds: readonly number[], counts: ArrayLike<number>, sum: number, out: MetricSample[]): void {
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[i]! }, value: cumulative });
  }
  cumulative += counts[bounds.length]!;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
}
