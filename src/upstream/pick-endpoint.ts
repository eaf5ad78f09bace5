/** What the balancer needs to know of an endpoint. */
export interface BalancerCandidate {
  /** Streams open on the endpoint plus calls waiting for one. */
  load(): number;
  /** Failures in a row; the tie-breaker, so that a suspect endpoint loses a tie. */
  consecutiveFailures(): number;
}

/**
 * Power of two choices: of two endpoints picked at random, the one with the
 * lower load (then the fewer recent failures). Close to "least loaded" without
 * every call herding to the same endpoint. Endpoints in `avoid` (those that
 * already failed this call) are only picked when there is nothing else.
 */
export function pickEndpoint<T extends BalancerCandidate>(candidates: readonly T[], avoid?: ReadonlySet<T>, random: () => number = Math.random): T | undefined {
  let pool = candidates;
  if (avoid !== undefined && avoid.size > 0) {
    const rest = candidates.filter((c) => !avoid.has(c));
    if (rest.length > 0) pool = rest;
  }
  if (pool.length <= 1) return pool[0];
  const i = Math.floor(random() * pool.length);
  let j = Math.floor(random() * (pool.length - 1));
  if (j >= i) j += 1;
  const a = pool[i]!;
  const b = pool[j]!;
  const la = a.load();
  const lb = b.load();
  if (la !== lb) return la < lb ? a : b;
  return b.consecutiveFailures() < a.consecutiveFailures() ? b : a;
}
