import { LRUCache } from "lru-cache";
import { addExact, exactSum, mergeExact, roundExact, type ExactSum } from "./exact-sum.js";
import type { MetricFamily, MetricSample } from "./metric-families.js";
import type { RouteCounts, StatusSnapshot, UpstreamCounts } from "./status-board.js";

/**
 * Series groups kept (a counter's series, or a histogram's buckets, sum and
 * count for one label set). The series are bounded by routes × protocols ×
 * codes, which only a redeploy changes; the bound is for a primary that
 * outlives many route tables: the groups no exited worker has reported for
 * longest go first (that series then resets, once).
 */
const maxRetiredGroups = 50_000;
/** Routes and upstreams kept for the status page, on the same terms. */
const maxRetiredRoutes = 10_000;
const maxRetiredUpstreams = 1_000;

type FamilyMeta = Omit<MetricFamily, "values">;

/** A series summed exactly (exact-sum.ts): its labels, and its sum. */
interface ExactSample {
  labels: MetricSample["labels"];
  metricName?: string;
  sum: ExactSum;
}

/** One label set of one family: a counter's sample, or a histogram's _bucket, _sum and _count samples. */
interface Group {
  family: FamilyMeta;
  /** By metricName and le, in the order the worker wrote them (histogram buckets must stay in order). */
  samples: Map<string, ExactSample>;
  /** When the group was first seen, so that sums keep the workers' order. */
  order: number;
}

/**
 * What the workers of `--workers N` that have exited had counted, folded
 * into one total. The primary sums each scrape over the workers alive plus
 * this total, so that a counter never goes down when a worker leaves (a
 * rolling restart, a crash, a replacement): to Prometheus a decrease is a
 * reset, and rate() would count the remaining total again. Only counters
 * and histograms are kept; gauges (open calls, buffered bytes, ...) are of
 * the workers alive. One total, not one per worker: workers come and go
 * for as long as the primary runs.
 */
export class RetiredTotals {
  readonly #groups = new LRUCache<string, Group>({ max: maxRetiredGroups });
  readonly #routes = new LRUCache<string, RouteCounts>({ max: maxRetiredRoutes });
  readonly #upstreams = new LRUCache<string, UpstreamCounts>({ max: maxRetiredUpstreams });
  #order = 0;

  /** Adds the last metric families an exited worker reported. */
  fold(families: MetricFamily[]): void {
    for (const f of families) {
      if (!summed(f)) continue;
      const family: FamilyMeta = { name: f.name, help: f.help, type: f.type, aggregator: f.aggregator };
      for (const s of f.values) {
        const { le, ...rest } = s.labels;
        const key = `${f.name}\n${labelsKey(rest)}`;
        let group = this.#groups.get(key);
        if (group === undefined) this.#groups.set(key, (group = { family, samples: new Map(), order: this.#order++ }));
        const sampleKey = `${s.metricName ?? ""}\n${le ?? ""}`;
        let into = group.samples.get(sampleKey);
        if (into === undefined) group.samples.set(sampleKey, (into = { labels: { ...s.labels }, ...(s.metricName !== undefined ? { metricName: s.metricName } : {}), sum: exactSum() }));
        addExact(into.sum, s.value);
      }
    }
  }

  /**
   * The lists to render for one scrape of the workers alive (`live`, one
   * list each): first every counter and histogram series, summed here over
   * them and these totals, exactly; then each worker's other families
   * (gauges), which prom-client combines by their own aggregators.
   */
  sumWith(live: MetricFamily[][]): MetricFamily[][] {
    const sums = new Map<string, { family: FamilyMeta; series: Map<string, ExactSample> }>();
    const seriesOf = (family: FamilyMeta, sample: { labels: MetricSample["labels"]; metricName?: string }) => {
      let sum = sums.get(family.name);
      if (sum === undefined) sums.set(family.name, (sum = { family, series: new Map() }));
      const key = `${sample.metricName ?? ""}\n${labelsKey(sample.labels)}`;
      let series = sum.series.get(key);
      if (series === undefined) sum.series.set(key, (series = { labels: sample.labels, ...(sample.metricName !== undefined ? { metricName: sample.metricName } : {}), sum: exactSum() }));
      return series.sum;
    };
    for (const families of live) {
      for (const f of families) if (summed(f)) for (const s of f.values) addExact(seriesOf(f, s), s.value);
    }
    const groups = [...this.#groups.values()].sort((a, b) => a.order - b.order);
    for (const g of groups) {
      for (const s of g.samples.values()) {
        mergeExact(seriesOf(g.family, s), s.sum);
      }
    }
    const totals = [...sums.values()].map(({ family, series }): MetricFamily => ({
      ...family,
      values: [...series.values()].map(({ labels, metricName, sum }) => ({ labels: { ...labels }, value: roundExact(sum), ...(metricName !== undefined ? { metricName } : {}) })),
    }));
    return [totals, ...live.map((families) => families.filter((f) => !summed(f)))];
  }

  /** Adds the last status counters an exited worker reported. */
  foldSnapshot(snapshot: StatusSnapshot): void {
    for (const r of snapshot.routes) {
      const into = this.#routes.get(r.route);
      // Its calls still open when it exited never finish: count them as
      // finished calls are not, so that the page shows no phantom open stream.
      if (into === undefined) {
        this.#routes.set(r.route, { route: r.route, type: r.type, started: r.finished, finished: r.finished, errors: r.errors, rejected: r.rejected, handling: [...r.handling] });
        continue;
      }
      into.started += r.finished;
      into.finished += r.finished;
      into.errors += r.errors;
      into.rejected += r.rejected;
      r.handling.forEach((n, i) => (into.handling[i] = (into.handling[i] ?? 0) + n));
    }
    for (const u of snapshot.upstreams) {
      const into = this.#upstreams.get(u.name);
      // Availability, queued calls and endpoints are the workers alive's.
      if (into === undefined) {
        this.#upstreams.set(u.name, { name: u.name, protocol: u.protocol, available: true, calls: u.calls, retries: u.retries, connectFailures: u.connectFailures, ejections: u.ejections, queued: 0, endpoints: [], latency: [...u.latency] });
        continue;
      }
      into.calls += u.calls;
      into.retries += u.retries;
      into.connectFailures += u.connectFailures;
      into.ejections += u.ejections;
      u.latency.forEach((n, i) => (into.latency[i] = (into.latency[i] ?? 0) + n));
    }
  }

  /** The status totals, as one more process's snapshot to merge (last: a route's kind and source are the live workers'). */
  snapshot(): StatusSnapshot {
    return {
      at: 0,
      pid: 0,
      routes: [...this.#routes.values()].map((r) => ({ ...r, handling: [...r.handling] })),
      upstreams: [...this.#upstreams.values()].map((u) => ({ ...u, endpoints: [], latency: [...u.latency] })),
    };
  }
}

/** Counters and histograms summed across workers: the series that must never go down. */
function summed(f: MetricFamily): boolean {
  return (f.type === "counter" || f.type === "histogram") && f.aggregator === "sum";
}

function labelsKey(labels: Record<string, string | number>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, String(labels[k])]));
}
