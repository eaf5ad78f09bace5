import { bucketOf, codeCount, handlingBuckets } from "./call-stats.js";

/**
 * Latency and outcome of the calls made to one upstream (proxy routes and
 * ctx.upstream), from the first attempt to the end of the response: plain
 * numbers, read when /metrics is scraped.
 */
export class UpstreamStats {
  /** Finished calls by status code. */
  readonly codes = new Float64Array(codeCount);
  /** Calls per handlingBuckets bucket (not cumulative), the last for +Inf. */
  readonly latency = new Float64Array(handlingBuckets.length + 1);
  latencySeconds = 0;

  finished(code: number, ms: number): void {
    this.codes[code >= 0 && code < codeCount ? code : 2]! += 1;
    const seconds = ms / 1000;
    this.latency[bucketOf(handlingBuckets, seconds)]! += 1;
    this.latencySeconds += seconds;
  }
}
