/** The outlier-detection settings of one upstream (upstream-config.ts). */
export interface OutlierPolicy {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
}

export type HealthStatus = "healthy" | "ejected" | "probing";

/**
 * Outlier detection for one endpoint. After `consecutiveFailures` failures
 * in a row (failed connects, lost connections, UNAVAILABLE answers) the
 * endpoint is ejected for baseEjectionMs, twice as long for each further
 * ejection in a row, up to maxEjectionMs. When the ejection ends it is on
 * probation: one success makes it healthy again and forgets the ejections,
 * one failure ejects it again for longer.
 */
export class EndpointHealth {
  private failures = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  /** Lifetime counters, for state(). */
  totalFailures = 0;
  totalEjections = 0;

  constructor(
    private readonly policy: OutlierPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  status(): HealthStatus {
    if (this.ejections === 0) return "healthy";
    return this.now() < this.ejectedUntil ? "ejected" : "probing";
  }

  /** Whether calls may be sent to the endpoint now. */
  available(): boolean {
    return this.now() >= this.ejectedUntil;
  }

  consecutiveFailures(): number {
    return this.failures;
  }

  ejectionCount(): number {
    return this.ejections;
  }

  /** When the current ejection ends (ms since epoch); 0 when not ejected. */
  ejectedUntilMs(): number {
    return this.status() === "ejected" ? this.ejectedUntil : 0;
  }

  /** Counts a failure; returns true when it ejects the endpoint. */
  recordFailure(): boolean {
    this.totalFailures += 1;
    this.failures += 1;
    const onProbation = this.ejections > 0 && this.available();
    if (!onProbation && this.failures < this.policy.consecutiveFailures) return false;
    if (!this.available()) return false; // already ejected: failures of calls that were in flight
    this.ejections += 1;
    this.totalEjections += 1;
    const ms = Math.min(this.policy.baseEjectionMs * 2 ** (this.ejections - 1), this.policy.maxEjectionMs);
    this.ejectedUntil = this.now() + ms;
    return true;
  }

  /**
   * A connection was made: ends a streak of failures, but an ejected
   * endpoint stays on probation until a call succeeds.
   */
  recordConnectSuccess(): void {
    this.failures = 0;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.ejections = 0;
    this.ejectedUntil = 0;
  }
}
