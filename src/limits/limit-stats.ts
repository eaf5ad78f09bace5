/**
 * Everything the limits do that an operator may want to count, one name per
 * kind of event. Rejections (a call refused or ended by a limit), pacing,
 * slow-consumer events, and the connection-level protections.
 */
export const limitEvents = [
  // Admission: a call refused before its handler ran (or after it queued).
  "maxConcurrent", "queueFull", "queueTimeout", "rate",
  "shedInFlight", "shedBufferedBytes", "shedEventLoopDelay", "shedHeap",
  // Admission, not a rejection: a call waited in the route's queue.
  "queued",
  // Per stream: a call ended by a limit.
  "maxStreamMessagesIn", "maxStreamMessagesOut", "maxDuration", "idleTimeout", "firstMessageTimeout",
  // Per stream: pacing (the stream was slowed, not ended).
  "pacedIn", "pacedOut",
  // Slow consumers: the handler was held back, a message was dropped, a call was cancelled.
  "slowConsumerBlocked", "slowConsumerDropped", "slowConsumerCancelled",
  // Connections and HTTP.
  "connectionRefusedTotal", "connectionRefusedPerAddress",
  "http1HeadersTimeout", "http1BodyTimeout",
  "http2RefusedStream", "http2ResetFlood", "http2HeaderTooLarge", "http2PingTimeout",
] as const;

export type LimitEvent = (typeof limitEvents)[number];

export type LimitCounts = Record<LimitEvent, number>;

export interface LimitStatsSnapshot {
  /** Every event since start, gateway-wide. */
  total: LimitCounts;
  /** Events of calls, by route ("pkg.Svc/Method"); only routes with events, only non-zero counts. */
  routes: Record<string, Partial<LimitCounts>>;
}

/**
 * The limits' counters: a plain in-process object that the metrics
 * exporter reads with snapshot(). Counting is a property increment; nothing
 * is allocated per event except the first event of a route.
 */
export class LimitStats {
  readonly total: LimitCounts = zeroCounts();
  readonly #routes = new Map<string, Partial<LimitCounts>>();

  count(event: LimitEvent, route?: string, n = 1): void {
    this.total[event] += n;
    if (route === undefined) return;
    let counts = this.#routes.get(route);
    if (counts === undefined) {
      counts = {};
      this.#routes.set(route, counts);
    }
    counts[event] = (counts[event] ?? 0) + n;
  }

  /** Counts of one route (zero for what never happened). */
  route(route: string): LimitCounts {
    return { ...zeroCounts(), ...this.#routes.get(route) };
  }

  snapshot(): LimitStatsSnapshot {
    return { total: { ...this.total }, routes: Object.fromEntries([...this.#routes].map(([r, c]) => [r, { ...c }])) };
  }

  /** The non-zero totals, for a log line. */
  nonZero(): Partial<LimitCounts> {
    const out: Partial<LimitCounts> = {};
    for (const e of limitEvents) if (this.total[e] !== 0) out[e] = this.total[e];
    return out;
  }
}

function zeroCounts(): LimitCounts {
  return Object.fromEntries(limitEvents.map((e) => [e, 0])) as LimitCounts;
}
