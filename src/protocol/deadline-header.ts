import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import type { RpcProtocol } from "./detect-protocol.js";

const grpcTimeout = "grpc-timeout";
const connectTimeout = "connect-timeout-ms";

/** The deadline bounds of one route. */
export interface DeadlinePolicy {
  /** A client deadline above this is lowered to it. */
  maxMs: number;
  /** The deadline of calls that send none (itself capped by maxMs). */
  defaultMs: number;
}

/**
 * Applies a route's deadline policy to the request's timeout header, in
 * place: a client deadline longer than `maxMs` is lowered. Returns the
 * client's deadline in effect, or undefined when the client sent none (the
 * call then gets `defaultDeadlineMs`, which the host enforces itself:
 * limits/default-deadline.ts) or a malformed one (left alone, so that the
 * protocol handler rejects it with the protocol's own error).
 *
 * Rewriting the header (rather than passing connect's `maxTimeoutMs`, which
 * rejects long deadlines with INVALID_ARGUMENT) keeps clients with generous
 * deadlines working, and lets the handler see the real deadline in
 * `ctx.timeoutMs()`. The default is not written into the header: the handler
 * would report it, and pass it on upstream, as the client's own deadline,
 * where Connect servers show none when the client set none.
 */
export function applyDeadlinePolicy(header: Headers, protocol: RpcProtocol, policy: DeadlinePolicy): number | undefined {
  const name = protocol === "connect" ? connectTimeout : grpcTimeout;
  const raw = header.get(name);
  const parsed = protocol === "connect"
    ? parseConnectTimeout(raw, Number.MAX_SAFE_INTEGER)
    : parseGrpcTimeout(raw, Number.MAX_SAFE_INTEGER);
  if (parsed.error || parsed.timeoutMs === undefined) return undefined;
  if (parsed.timeoutMs <= policy.maxMs) return parsed.timeoutMs;
  header.set(name, protocol === "connect" ? String(policy.maxMs) : formatGrpcTimeout(policy.maxMs));
  return policy.maxMs;
}

/** The deadline of a call whose client sent none. */
export function defaultDeadlineMs(policy: DeadlinePolicy): number {
  return Math.min(policy.defaultMs, policy.maxMs);
}

/** grpc-timeout allows at most 8 digits; switch to seconds above that. */
function formatGrpcTimeout(ms: number): string {
  return ms <= 99_999_999 ? `${ms}m` : `${Math.floor(ms / 1000)}S`;
}
