import type { CallObserver } from "./call-observer.js";

/**
 * Upper bounds (seconds) of the handling-time histogram: gRPC's
 * conventional layout (go-grpc-prometheus, client_golang's DefBuckets),
 * with 0.5, 1 and 2.5 ms added below it, since most calls a gateway
 * serves take less than its first bucket (5 ms).
 */
export const handlingBuckets: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Upper bounds (seconds) of the stream-lifetime histogram: streams live for
 * seconds to hours, which a histogram capped at 10 s would squash into its
 * last bucket.
 */
export const streamBuckets: readonly number[] = [0.1, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 21600];

/** gRPC status codes are 0 (OK) to 16; anything else is counted as UNKNOWN. */
export const codeCount = 17;

/**
 * The counters of one route served in one protocol: plain numbers and typed
 * arrays, so that counting a call costs a few increments and no allocation.
 * prom-client never sees a call: the metrics are read from here when
 * /metrics is scraped (rpc-metrics.ts).
 *
 * Calls open = started - finished (the sum of `codes`), so no gauge is kept.
 * A shared instance is the observer of calls that are not traced.
 */
export class CallStats implements CallObserver {
  readonly traceContext = undefined;
  started = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  /** Calls refused before running (draining, flow limits). */
  rejected = 0;
  /** Finished calls by status code. */
  readonly codes = new Float64Array(codeCount);
  /** Calls per handlingBuckets bucket (not cumulative), the last for +Inf. */
  readonly handling = new Float64Array(handlingBuckets.length + 1);
  handlingSeconds = 0;
  /** Streaming methods only: lifetimes per streamBuckets bucket. */
  readonly lifetimes: Float64Array | undefined;
  lifetimeSeconds = 0;

  constructor(streaming: boolean) {
    this.lifetimes = streaming ? new Float64Array(streamBuckets.length + 1) : undefined;
  }

  start(): void {
    this.started++;
  }

  received(bytes: number): void {
    this.messagesIn++;
    this.bytesIn += bytes;
  }

  sent(bytes: number): void {
    this.messagesOut++;
    this.bytesOut += bytes;
  }

  finished(code: number, ms: number): void {
    this.codes[code >= 0 && code < codeCount ? code : 2]! += 1;
    const seconds = ms / 1000;
    this.handling[bucketOf(handlingBuckets, seconds)]! += 1;
    this.handlingSeconds += seconds;
    const lifetimes = this.lifetimes;
    if (lifetimes !== undefined) {
      lifetimes[bucketOf(streamBuckets, seconds)]! += 1;
      this.lifetimeSeconds += seconds;
    }
  }

  /** A call answered with `code` before it ran (draining, limits): started, finished, no duration. */
  refused(code: number): void {
    this.started++;
    this.rejected++;
    this.codes[code >= 0 && code < codeCount ? code : 2]! += 1;
  }

  get finishedCount(): number {
    let n = 0;
    for (const c of this.codes) n += c;
    return n;
  }
}

/** Index of the first bound >= value (the last index for values above every bound). */
export function bucketOf(bounds: readonly number[], value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  return i;
}
