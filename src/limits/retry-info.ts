import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { ConnectError } from "@connectrpc/connect";

/**
 * Adds a google.rpc.RetryInfo detail to `error`: how long the client should
 * wait before trying again. gRPC and Connect clients read it from
 * grpc-status-details-bin or the Connect error's details. Encoded field by
 * field (RetryInfo.retry_delay = 1, a google.protobuf.Duration of seconds = 1
 * and nanos = 2) so that no descriptor has to be loaded.
 */
export function withRetryInfo<E extends ConnectError>(error: E, delayMs: number): E {
  const ms = Math.max(0, Math.ceil(delayMs));
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  const duration = new BinaryWriter();
  if (seconds !== 0) duration.tag(1, 0).int64(seconds);
  if (nanos !== 0) duration.tag(2, 0).int32(nanos);
  const value = new BinaryWriter().tag(1, 2).bytes(duration.finish()).finish();
  error.details.push({ type: "google.rpc.RetryInfo", value, debug: { retryDelay: `${ms / 1000}s` } });
  return error;
}
