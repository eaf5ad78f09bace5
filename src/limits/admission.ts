import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { ConcurrencyGate, type GateWaiter } from "./concurrency-gate.js";
import type { LimitEvent, LimitStats } from "./limit-stats.js";
import type { OverloadMonitor } from "./overload-monitor.js";
import { RateLimiter, type RateSubject } from "./rate-limiter.js";
import { withRetryInfo } from "./retry-info.js";
import type { AdmissionPolicy } from "./route-policy.js";

/** A call that may have to wait for a slot: told once, admitted or refused. */
export type AdmissionWaiter = GateWaiter;

/** enqueue()'s answer when the call waits in the route's queue. */
export const queued: unique symbol = Symbol("queued");

/** admit()'s answer when every slot of the route is taken and it has a queue: call enqueue(). */
export const mustQueue: unique symbol = Symbol("must queue");

/**
 * admit()'s answer: undefined (run the call now), `mustQueue` (offer the
 * call to enqueue()), or the error to answer with now.
 */
export type Verdict = undefined | typeof mustQueue | ConnectError;

/** The admission state of one route: its slots and its rate buckets. */
export class RouteAdmission {
  readonly gate: ConcurrencyGate | undefined;
  readonly rate: RateLimiter | undefined;

  constructor(readonly route: string, readonly policy: AdmissionPolicy, path: string, stats: LimitStats) {
    const { maxConcurrent, queue, queueTimeoutMs } = policy;
    if (maxConcurrent !== undefined) {
      this.gate = new ConcurrencyGate(maxConcurrent, queue, queueTimeoutMs, (reason) => {
        if (reason === "closed") return rpcError("SLUICE_RPC_DRAINING", Code.Unavailable);
        stats.count("queueTimeout", route);
        return withRetryInfo(rpcError("SLUICE_LIMIT_QUEUE_TIMEOUT", Code.ResourceExhausted, { route, ms: queueTimeoutMs }), queueTimeoutMs);
      });
    }
    if (policy.rate !== undefined) this.rate = new RateLimiter(policy.rate, path);
  }
}

export interface AdmissionOptions {
  /** Calls in flight gateway-wide at most; past it new calls are shed with UNAVAILABLE. */
  maxInFlight: number;
}

/** How long a shed client is asked to wait before retrying. */
const shedRetryMs = 1_000;

const shedReasons: Partial<Record<LimitEvent, string>> = {
  shedInFlight: "overload.maxInFlight calls are in flight",
  shedBufferedBytes: "overload.maxBufferedBytes of responses wait for slow readers",
  shedEventLoopDelay: "the event loop is lagging past overload.maxEventLoopDelayMs",
  shedHeap: "the heap is past overload.maxHeapPercent of its limit",
};

/**
 * Made once each, on first use: a shed call must cost as little as possible
 * (the errors are only read when answering). See sharedError for why not at
 * import.
 */
const shedErrors = new Map<LimitEvent, ConnectError>();

/**
 * Admission of new calls, at dispatch, for every call engine (function
 * calls and proxy calls alike):
 *
 *   let verdict = admission.admit(route.admission, essential, exchange);
 *   if (verdict === mustQueue) verdict = admission.enqueue(route.admission, call);
 *   // undefined: run now; queued: wait for call.admitted() / call.refused(e);
 *   // a ConnectError: answer it (answerEarlyError), the call never ran.
 *   …
 *   admission.release(route.admission);   // once, when the call is over and its handler has returned
 *
 * admit() allocates nothing for a call it sheds (the overload errors are
 * made once), so shedding stays cheap when it matters most.
 *
 * Gateway-wide first (the in-flight cap and overload shedding, which spare
 * `essential` routes such as health checks), then the route's own limits:
 * its rate, then its concurrency slots and queue. A route without limits
 * costs two comparisons and allocates nothing.
 */
export class Admission {
  readonly #routes = new Map<string, RouteAdmission>();
  #closed = false;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly inFlight: { readonly count: number },
    private readonly overload: OverloadMonitor,
    readonly stats: LimitStats,
  ) {}

  /**
   * The admission state of a route, or undefined when it has nothing to
   * check. The same path with the same policy keeps its state across
   * reloads, so a reload neither resets a rate bucket nor doubles the slots.
   */
  forRoute(path: string, route: string, policy: AdmissionPolicy | undefined): RouteAdmission | undefined {
    if (policy === undefined) {
      this.#routes.delete(path);
      return undefined;
    }
    const known = this.#routes.get(path);
    if (known !== undefined && samePolicy(known.policy, policy)) return known;
    const fresh = new RouteAdmission(route, policy, path, this.stats);
    this.#routes.set(path, fresh);
    return fresh;
  }

  /** Every route with admission state, for the metrics (a removed route's state stays until a route of its path returns). */
  routes(): IterableIterator<RouteAdmission> {
    return this.#routes.values();
  }

  admit(route: RouteAdmission | undefined, essential: boolean, subject: RateSubject): Verdict {
    if (!essential) {
      if (this.inFlight.count >= this.options.maxInFlight) return this.#shed("shedInFlight");
      const reason = this.overload.reason;
      if (reason !== undefined) return this.#shed(reason);
    }
    if (route === undefined) return undefined;
    const { rate, gate } = route;
    if (rate !== undefined) {
      const waitMs = rate.take(subject);
      if (waitMs > 0) {
        this.stats.count("rate", route.route);
        return withRetryInfo(rpcError("SLUICE_LIMIT_RATE", Code.ResourceExhausted, { route: route.route, perSecond: rate.policy.perSecond, retryMs: waitMs }), waitMs);
      }
    }
    if (gate === undefined || gate.tryAcquire()) return undefined;
    if (this.#closed) return rpcError("SLUICE_RPC_DRAINING", Code.Unavailable);
    if (gate.queueSize > 0) return mustQueue;
    this.stats.count("maxConcurrent", route.route);
    // There is no telling when a slot frees up; a short pause is a fair guess.
    return withRetryInfo(rpcError("SLUICE_LIMIT_CONCURRENCY", Code.ResourceExhausted, { route: route.route, max: gate.max }), 100);
  }

  /**
   * After admit() said mustQueue: the call waits for a slot (`queued`; it is
   * then told admitted() or refused()), or the queue is full (the error).
   */
  enqueue(route: RouteAdmission | undefined, waiter: AdmissionWaiter): typeof queued | ConnectError {
    const gate = route?.gate;
    if (route === undefined || gate === undefined) return rpcError("SLUICE_RPC_INTERNAL", Code.Internal, { requestId: "(admission)" });
    if (gate.enqueue(waiter)) {
      this.stats.count("queued", route.route);
      return queued;
    }
    this.stats.count("queueFull", route.route);
    return withRetryInfo(rpcError("SLUICE_LIMIT_QUEUE_FULL", Code.ResourceExhausted, { route: route.route, max: gate.max, queue: gate.queueSize }), gate.timeoutMs);
  }

  /** Gives back the route slot admit() took (or handed over through the queue). */
  release(route: RouteAdmission | undefined): void {
    route?.gate?.release();
  }

  /** A queued call whose client went away leaves the queue. */
  withdraw(route: RouteAdmission | undefined, waiter: AdmissionWaiter): void {
    route?.gate?.withdraw(waiter);
  }

  /** Shutdown: every queued call is refused with UNAVAILABLE, and no call queues any more. */
  close(): void {
    this.#closed = true;
    for (const r of this.#routes.values()) r.gate?.close();
  }

  /** The reason a call was shed, when `error` is one of the shed errors admit() returns. */
  shedReason(error: ConnectError): string | undefined {
    for (const [event, e] of shedErrors) if (e === error) return shedReasons[event];
    return undefined;
  }

  #shed(reason: LimitEvent): ConnectError {
    this.stats.count(reason);
    let error = shedErrors.get(reason);
    if (!error) {
      error = withRetryInfo(rpcError("SLUICE_OVERLOADED", Code.Unavailable, { reason: shedReasons[reason]! }), shedRetryMs);
      shedErrors.set(reason, error);
    }
    return error;
  }
}

function samePolicy(a: AdmissionPolicy, b: AdmissionPolicy): boolean {
  if (a.maxConcurrent !== b.maxConcurrent || a.queue !== b.queue || a.queueTimeoutMs !== b.queueTimeoutMs) return false;
  const x = a.rate;
  const y = b.rate;
  if (x === undefined || y === undefined) return x === y;
  const sameKey = x.key === y.key || (typeof x.key === "object" && typeof y.key === "object" && x.key.header.toLowerCase() === y.key.header.toLowerCase());
  return sameKey && x.perSecond === y.perSecond && x.burst === y.burst && x.maxKeys === y.maxKeys;
}
