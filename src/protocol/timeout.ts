import type { IncomingHttpHeaders } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { headerValue } from "./metadata.js";

/** A client's deadline as sent, or why it could not be read. */
export type ParsedTimeout = { ms: number | undefined; error?: undefined } | { ms?: undefined; error: ConnectError };

const none: ParsedTimeout = { ms: undefined };

const grpcUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n). */
export function parseGrpcTimeout(value: string | undefined): ParsedTimeout {
  if (value === undefined) return none;
  const unit = grpcUnitMs[value.charAt(value.length - 1)];
  const digits = value.slice(0, -1);
  if (unit === undefined || !/^\d{1,8}$/.test(digits)) {
    return { error: new ConnectError(`protocol error: invalid grpc timeout value: ${value}`, Code.InvalidArgument) };
  }
  return { ms: Number(digits) * unit };
}

/** connect-timeout-ms: 1 to 10 digits of milliseconds. */
export function parseConnectTimeout(value: string | undefined): ParsedTimeout {
  if (value === undefined) return none;
  if (!/^\d{1,10}$/.test(value)) {
    return { error: new ConnectError(`protocol error: invalid connect timeout value: ${value}`, Code.InvalidArgument) };
  }
  return { ms: Number(value) };
}

/** The deadline a call's client sent in its protocol's timeout header (grpc-timeout or connect-timeout-ms). */
export function readClientTimeout(headers: IncomingHttpHeaders, timeoutHeader: string): ParsedTimeout {
  const raw = headerValue(headers[timeoutHeader]);
  return timeoutHeader === "grpc-timeout" ? parseGrpcTimeout(raw) : parseConnectTimeout(raw);
}

/** grpc-timeout allows at most 8 digits; switch to coarser units above that. */
export function formatGrpcTimeout(ms: number): string {
  if (ms < 1) return `${Math.max(1, Math.round(ms * 1_000_000))}n`;
  const whole = Math.ceil(ms);
  if (whole <= 99_999_999) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  if (seconds <= 99_999_999) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}
