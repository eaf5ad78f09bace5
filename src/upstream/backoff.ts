import type { RetryPolicy } from "./upstream-config.js";

/**
 * The wait before retry number `retry` (1 for the first retry), as gRPC's
 * retry proposal (A6) defines it: a random time between 0 and
 * min(initialBackoff × multiplier^(retry-1), maxBackoff). Full jitter keeps
 * the retries of many calls that failed together from arriving together.
 */
export function retryBackoffMs(retry: number, policy: Pick<RetryPolicy, "initialBackoffMs" | "maxBackoffMs" | "backoffMultiplier">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.initialBackoffMs * policy.backoffMultiplier ** Math.max(0, retry - 1), policy.maxBackoffMs);
  return Math.floor(random() * ceiling);
}
