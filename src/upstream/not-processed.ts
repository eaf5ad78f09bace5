import type { ConnectError } from "@connectrpc/connect";

const unprocessed = new WeakSet<ConnectError>();

/**
 * Marks an error of a call that never reached the upstream's application
 * (no connection, a refused stream, a stream above a GOAWAY's last id, a
 * queue that gave up): such a call can be retried whatever its status code,
 * as gRPC retries them transparently.
 */
export function notProcessed(error: ConnectError): ConnectError {
  unprocessed.add(error);
  return error;
}

export function wasNotProcessed(error: unknown): boolean {
  return typeof error === "object" && error !== null && unprocessed.has(error as ConnectError);
}
