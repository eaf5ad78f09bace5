import type { UpstreamRegistry } from "../upstream/upstream-registry.js";
import { handlingBuckets } from "./call-stats.js";
import type { RpcMetrics } from "./rpc-metrics.js";

/** One route's counters in one process (every protocol together), as the status page needs them. */
export interface RouteCounts {
  /** "pkg.Service/Method", or "_OTHER/_OTHER" for unknown paths. */
  route: string;
  type: string;
  /** function or proxy; undefined for a route no longer served. */
  kind?: string;
  source?: string;
  started: number;
  finished: number;
  /** Finished with a status other than OK. */
  errors: number;
  rejected: number;
  /** Calls per handlingBuckets bucket, not cumulative. */
  handling: number[];
}

export interface UpstreamCounts {
  name: string;
  protocol: string;
  available: boolean;
  calls: number;
  retries: number;
  connectFailures: number;
  ejections: number;
  queued: number;
  endpoints: { address: string; health: string; connections: number; activeStreams: number }[];
  /** Call latency per handlingBuckets bucket; empty without metrics. */
  latency: number[];
}

/** What one process reports for the status page. */
export interface StatusSnapshot {
  /** Date.now() when taken. */
  at: number;
  pid: number;
  routes: RouteCounts[];
  upstreams: UpstreamCounts[];
}

/** This process's counters, now. */
export function takeSnapshot(metrics: RpcMetrics, upstreams: UpstreamRegistry): StatusSnapshot {
  const served = new Map(metrics.served().map((r) => [`${r.method.parent.typeName}/${r.method.name}`, r]));
  const routes: RouteCounts[] = [];
  for (const stats of metrics.all()) {
    const route = `${stats.service}/${stats.method}`;
    const r = served.get(route);
    let started = 0;
    let finished = 0;
    let ok = 0;
    let rejected = 0;
    const handling = new Array<number>(handlingBuckets.length + 1).fill(0);
    for (const s of [stats.grpc, stats.grpcWeb, stats.connect]) {
      started += s.started;
      finished += s.finishedCount;
      ok += s.codes[0]!;
      rejected += s.rejected;
      for (let i = 0; i < handling.length; i++) handling[i]! += s.handling[i]!;
    }
    if (r === undefined && started === 0) continue;
    routes.push({
      route, type: stats.type, started, finished, errors: finished - ok, rejected, handling,
      ...(r !== undefined ? { kind: r.kind, source: r.source } : {}),
    });
  }
  const state = upstreams.state();
  const ups = Object.values(state).map((s): UpstreamCounts => ({
    name: s.name, protocol: s.protocol, available: s.available, calls: s.calls, retries: s.retries,
    connectFailures: s.connectFailures, ejections: s.ejections, queued: s.queued,
    endpoints: s.endpoints.map((e) => ({ address: e.address, health: e.health, connections: e.connections.length, activeStreams: e.activeStreams })),
    latency: [...(upstreams.get(s.name).stats?.latency ?? [])],
  }));
  return { at: Date.now(), pid: process.pid, routes, upstreams: ups };
}

/** The snapshots of every worker, summed into one. */
export function mergeSnapshots(all: StatusSnapshot[]): StatusSnapshot {
  const routes = new Map<string, RouteCounts>();
  const upstreams = new Map<string, UpstreamCounts>();
  for (const snap of all) {
    for (const r of snap.routes) {
      const into = routes.get(r.route);
      if (into === undefined) {
        routes.set(r.route, { ...r, handling: [...r.handling] });
        continue;
      }
      into.started += r.started;
      into.finished += r.finished;
      into.errors += r.errors;
      into.rejected += r.rejected;
      r.handling.forEach((n, i) => (into.handling[i] = (into.handling[i] ?? 0) + n));
      into.kind ??= r.kind;
      into.source ??= r.source;
    }
    for (const u of snap.upstreams) {
      const into = upstreams.get(u.name);
      if (into === undefined) {
        upstreams.set(u.name, { ...u, endpoints: u.endpoints.map((e) => ({ ...e })), latency: [...u.latency] });
        continue;
      }
      into.available &&= u.available;
      into.calls += u.calls;
      into.retries += u.retries;
      into.connectFailures += u.connectFailures;
      into.ejections += u.ejections;
      into.queued += u.queued;
      for (const e of u.endpoints) {
        const same = into.endpoints.find((x) => x.address === e.address);
        if (same === undefined) into.endpoints.push({ ...e });
        else {
          same.connections += e.connections;
          same.activeStreams += e.activeStreams;
          if (e.health !== "healthy") same.health = e.health;
        }
      }
      u.latency.forEach((n, i) => (into.latency[i] = (into.latency[i] ?? 0) + n));
    }
  }
  return { at: Math.max(0, ...all.map((s) => s.at)), pid: all.length === 1 ? all[0]!.pid : 0, routes: [...routes.values()], upstreams: [...upstreams.values()] };
}

/** One route as the status page shows it. */
export interface RouteView {
  route: string;
  type: string;
  kind: string | null;
  source: string | null;
  calls: number;
  callsPerSecond: number;
  /** Share of the window's calls that ended with a status other than OK; null without calls. */
  errorRate: number | null;
  /** Handling time of the window's calls (from the histogram); null without calls. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Calls in progress: open streams for streaming methods. */
  open: number;
  rejected: number;
}

export interface UpstreamView extends Omit<UpstreamCounts, "latency"> {
  callsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface StatusView {
  at: string;
  /** The span rates and percentiles are measured over, seconds (0 on the first look). */
  windowSeconds: number;
  processes: number;
  routes: RouteView[];
  upstreams: UpstreamView[];
}

/** How far back rates and percentiles look. */
const windowMs = 5_000;
/** Snapshots kept (one per look at the page, at most one per 250 ms). */
const keep = 64;

/**
 * The status page's numbers: every look takes a snapshot (of every worker)
 * and compares it with the one taken about five seconds before, so rates
 * and percentiles are of the last few seconds, not of the process's life.
 */
export class StatusBoard {
  readonly #history: StatusSnapshot[] = [];

  view(now: StatusSnapshot, processes: number): StatusView {
    const history = this.#history;
    const last = history[history.length - 1];
    if (last === undefined || now.at - last.at >= 250) {
      history.push(now);
      if (history.length > keep) history.shift();
    }
    // The newest snapshot at least windowMs old, or the oldest there is.
    let before = history[0]!;
    for (const s of history) if (now.at - s.at >= windowMs) before = s;
    const seconds = Math.max(0, (now.at - before.at) / 1000);
    const earlier = new Map(before === now ? [] : before.routes.map((r) => [r.route, r]));
    const routes = now.routes.map((r): RouteView => {
      const b = earlier.get(r.route);
      // A count lower than before is a reset (as rate() reads one): the window starts from 0.
      const calls = increase(r.finished, b?.finished);
      const errors = increase(r.errors, b?.errors);
      const buckets = r.handling.map((n, i) => increase(n, b?.handling[i]));
      return {
        route: r.route, type: r.type, kind: r.kind ?? null, source: r.source ?? null,
        calls: r.finished,
        callsPerSecond: seconds > 0 ? round(calls / seconds) : 0,
        errorRate: calls > 0 ? round(errors / calls) : null,
        p50Ms: quantileMs(buckets, 0.5),
        p99Ms: quantileMs(buckets, 0.99),
        open: Math.max(0, r.started - r.finished),
        rejected: r.rejected,
      };
    });
    const earlierUp = new Map(before === now ? [] : before.upstreams.map((u) => [u.name, u]));
    const upstreams = now.upstreams.map((u): UpstreamView => {
      const b = earlierUp.get(u.name);
      const buckets = u.latency.map((n, i) => increase(n, b?.latency[i]));
      const { latency: _, ...rest } = u;
      return { ...rest, callsPerSecond: seconds > 0 ? round(increase(u.calls, b?.calls) / seconds) : 0, p50Ms: quantileMs(buckets, 0.5), p99Ms: quantileMs(buckets, 0.99) };
    });
    return { at: new Date(now.at).toISOString(), windowSeconds: round(seconds), processes, routes, upstreams };
  }
}

/** The q-quantile of a histogram (per-bucket counts), interpolated within its bucket as Prometheus' histogram_quantile does. */
export function quantileMs(buckets: number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (cumulative + n >= rank && n > 0) {
      if (i >= handlingBuckets.length) return handlingBuckets[handlingBuckets.length - 1]! * 1000;
      const lower = i === 0 ? 0 : handlingBuckets[i - 1]!;
      const upper = handlingBuckets[i]!;
      return round((lower + ((upper - lower) * (rank - cumulative)) / n) * 1000);
    }
    cumulative += n;
  }
  return null;
}

/** How much a counter grew since `before`; all of it when it went down (a reset). */
function increase(now: number, before: number | undefined): number {
  return before === undefined || now < before ? now : now - before;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
