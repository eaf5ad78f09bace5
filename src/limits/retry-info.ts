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

/** The retry delay of a RetryInfo detail's bytes, in ms (for tests and clients written here). */
export function retryDelayMs(value: Uint8Array): number {
  let seconds = 0;
  let nanos = 0;
  // RetryInfo { Duration retry_delay = 1 } → Duration { int64 seconds = 1; int32 nanos = 2 }
  const inner = readField(value, 1);
  if (inner instanceof Uint8Array) {
    const s = readField(inner, 1);
    const n = readField(inner, 2);
    if (typeof s === "number") seconds = s;
    if (typeof n === "number") nanos = n;
  }
  return seconds * 1000 + Math.round(nanos / 1_000_000);
}

/** The first field `no` of a message: a varint as a number, or length-delimited bytes. */
function readField(bytes: Uint8Array, no: number): number | Uint8Array | undefined {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (field === no) return v;
    } else if (wire === 2) {
      const len = varint();
      const v = bytes.subarray(i, i + len);
      i += len;
      if (field === no) return v;
    } else {
      return undefined;
    }
  }
  return undefined;
}
