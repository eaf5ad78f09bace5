/**
 * A token bucket: `perSecond` tokens flow in, up to `burst` are kept. Plain
 * numbers on the instance and a caller-supplied clock, so that one bucket
 * costs two fields and taking a token allocates nothing.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /**
   * Takes one token at time `now` (ms). Returns 0 when it was there,
   * otherwise the ms until one will be (nothing is taken then).
   */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.perSecond);
  }

  /** Tokens available at `now` (for tests and stats). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  #refill(now: number): void {
    const elapsed = now - this.#at;
    if (elapsed <= 0) return;
    this.#at = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.perSecond) / 1000);
  }
}
