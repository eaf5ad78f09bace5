/**
 * Bounds the retries of one upstream so that they cannot multiply its load:
 * over a sliding window of 10 one-second buckets, retries may be at most
 * `percent`% of the calls started, plus `minPerSecond` per second of the
 * window. A call that fails against an upstream that fails everything is
 * then retried for at most that share of calls, whatever maxAttempts says.
 */
export class RetryBudget {
  private static readonly buckets = 10;
  private readonly calls = new Array<number>(RetryBudget.buckets).fill(0);
  private readonly retries = new Array<number>(RetryBudget.buckets).fill(0);
  private second: number;

  constructor(
    private readonly percent: number,
    private readonly minPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.second = Math.floor(now() / 1000);
  }

  /** Counts a call's first attempt. */
  recordCall(): void {
    this.advance();
    this.calls[this.second % RetryBudget.buckets]! += 1;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    this.advance();
    const calls = sum(this.calls);
    const retries = sum(this.retries);
    const allowed = (calls * this.percent) / 100 + this.minPerSecond * RetryBudget.buckets;
    if (retries + 1 > allowed) return false;
    this.retries[this.second % RetryBudget.buckets]! += 1;
    return true;
  }

  /** Clears the buckets that the window has moved past. */
  private advance(): void {
    const second = Math.floor(this.now() / 1000);
    const steps = Math.min(second - this.second, RetryBudget.buckets);
    for (let i = 1; i <= steps; i++) {
      const b = (this.second + i) % RetryBudget.buckets;
      this.calls[b] = 0;
      this.retries[b] = 0;
    }
    if (second > this.second) this.second = second;
  }
}

function sum(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
