/**
 * What the upstream asked for in `grpc-retry-pushback-ms` (gRPC proposal
 * A6): a delay in milliseconds before the next attempt, or "stop" when the
 * value is present but not a non-negative integer (the server's way of
 * saying "do not retry"), or undefined when absent (use the backoff).
 */
export function parseRetryPushback(value: string | string[] | undefined): number | "stop" | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v.trim())) return "stop";
  return Number(v.trim());
}
