import type { EventEmitter } from "node:events";

/**
 * Resolves on the stream's 'drain', or when the call is cancelled (then no
 * 'drain' ever comes). The grpc-js arms' stream handlers wait on it when
 * write() returns false, the way a careful grpc-js user does, so they do the
 * same work per message as a pull-based Connect handler.
 */
export function waitUntilWritable(call: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.once("drain", done);
    call.once("cancelled", done);
  });
}
