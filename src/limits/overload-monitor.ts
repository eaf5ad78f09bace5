import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import v8 from "node:v8";
import type { LimitEvent } from "./limit-stats.js";

export interface OverloadThresholds {
  /** Event-loop delay (the worst seen in a sample) at or above which new work is shed; 0: never. */
  maxEventLoopDelayMs: number;
  /** V8 heap in use, as a percentage of its limit, at or above which new work is shed; 0: never. */
  maxHeapPercent: number;
  /** Response bytes held for slow readers, gateway-wide, at or above which new work is shed. */
  maxBufferedBytes: number;
}

/** How often the event loop and the heap are looked at. */
const sampleIntervalMs = 250;

/**
 * Whether the process is close to falling over: the event loop lags, the
 * heap is nearly full, or too many response bytes wait for slow readers.
 * Sampling runs on one unref'd interval; a call reads a field and compares
 * a counter, so checking costs nothing measurable. While overloaded, new
 * calls are shed (health checks are not); existing streams go on.
 */
export class OverloadMonitor {
  /** Response bytes queued for slow readers right now (OutboundQueue keeps it). */
  bufferedBytes = 0;
  #sampled: LimitEvent | undefined;
  #histogram: IntervalHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #heapLimit = v8.getHeapStatistics().heap_size_limit;

  constructor(readonly thresholds: OverloadThresholds) {}

  /** Why new work is refused now, or undefined. */
  get reason(): LimitEvent | undefined {
    if (this.bufferedBytes >= this.thresholds.maxBufferedBytes) return "shedBufferedBytes";
    return this.#sampled;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const { maxEventLoopDelayMs, maxHeapPercent } = this.thresholds;
    if (maxEventLoopDelayMs === 0 && maxHeapPercent === 0) return;
    if (maxEventLoopDelayMs > 0) {
      this.#histogram = monitorEventLoopDelay({ resolution: 10 });
      this.#histogram.enable();
    }
    this.#timer = setInterval(() => this.#sample(), sampleIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
  }

  #sample(): void {
    const { maxEventLoopDelayMs, maxHeapPercent } = this.thresholds;
    let reason: LimitEvent | undefined;
    const h = this.#histogram;
    if (h !== undefined) {
      // The histogram is in nanoseconds; its max is the worst stall since the last sample.
      if (h.count > 0 && h.max / 1e6 >= maxEventLoopDelayMs) reason = "shedEventLoopDelay";
      h.reset();
    }
    if (reason === undefined && maxHeapPercent > 0) {
      const used = v8.getHeapStatistics().used_heap_size;
      if ((used / this.#heapLimit) * 100 >= maxHeapPercent) reason = "shedHeap";
    }
    this.#sampled = reason;
  }
}
