import type { GatewayLimits } from "../limits/gateway-limits.js";
import { limitEvents } from "../limits/limit-stats.js";
import { counter, gauge, type MetricFamily, type MetricSample } from "./metric-families.js";

/** The `route` label of events that belong to no route (connections, HTTP, shedding before a route was known). */
export const gatewayRoute = "_gateway";

/**
 * The flow limits' metric families, read at scrape time from LimitStats
 * and the admission, overload and connection state: nothing is counted
 * twice on the request path for them.
 *
 * `sluice_limit_events_total{event, route}`: every refusal, cut-off,
 * pacing and slow-consumer event (src/limits/limit-stats.ts names them),
 * per route; events without a route are under route="_gateway". Every
 * event name is always present there (at 0), so dashboards and alerts
 * can name any of them before it first happens.
 */
export function limitFamilies(limits: GatewayLimits): MetricFamily[] {
  const { stats, admission, overload, connections } = limits;
  const snapshot = stats.snapshot();
  const events: MetricSample[] = [];
  const ofRoutes = Object.fromEntries(limitEvents.map((e) => [e, 0])) as Record<(typeof limitEvents)[number], number>;
  for (const [route, counts] of Object.entries(snapshot.routes)) {
    for (const e of limitEvents) {
      const n = counts[e];
      if (n === undefined || n === 0) continue;
      events.push({ labels: { event: e, route }, value: n });
      ofRoutes[e] += n;
    }
  }
  for (const e of limitEvents) events.push({ labels: { event: e, route: gatewayRoute }, value: snapshot.total[e] - ofRoutes[e] });

  const inFlight: MetricSample[] = [];
  const queued: MetricSample[] = [];
  const maxConcurrent: MetricSample[] = [];
  for (const r of admission.routes()) {
    const gate = r.gate;
    if (gate === undefined) continue;
    const labels = { route: r.route };
    inFlight.push({ labels, value: gate.active });
    queued.push({ labels, value: gate.waiting });
    maxConcurrent.push({ labels, value: gate.max });
  }
  const reason = overload.reason;
  return [
    counter("sluice_limit_events_total", "Calls refused or ended by a flow limit, streams paced, slow-consumer events, connections refused and HTTP protections triggered, by event and route.", events),
    gauge("sluice_limit_route_in_flight", "Calls holding one of the route's maxConcurrent slots.", inFlight),
    gauge("sluice_limit_route_queued", "Calls waiting in the route's queue for a slot.", queued),
    gauge("sluice_limit_route_max_concurrent", "The route's maxConcurrent.", maxConcurrent),
    gauge("sluice_overloaded", "1 while the gateway sheds new calls (overload.*), else 0.", [{ labels: {}, value: reason === undefined ? 0 : 1 }], "max"),
    gauge("sluice_buffered_response_bytes", "Response bytes queued in the gateway for clients that read slowly (overload.maxBufferedBytes bounds it).", [{ labels: {}, value: overload.bufferedBytes }]),
    gauge("sluice_connections_open", "Client connections open (connections.max bounds it).", [{ labels: {}, value: connections.open }]),
  ];
}
