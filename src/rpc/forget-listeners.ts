import type http2 from "node:http2";

/**
 * Drops every listener of a stream that has closed, so that the stream no
 * longer reaches the call.
 *
 * Node keeps a closed stream's native half until the next full GC when the
 * stream's last frames were still queued on the socket as it closed
 * (node_http2.cc, Http2Stream::Destroy), which is the rule for a unary
 * answer: the trailers go out and the stream closes in one turn. V8's
 * scavenges treat that native half as a root, so the stream, its listeners
 * and all they reach (the call, its exchange, the request headers, Node's
 * own closures over the request body) survive them and are copied into the
 * old generation to wait for a full GC. At 1,280 echo calls/s the
 * scavenges copied 24 % of the bytes the gateway allocated, in pauses of
 * 15-29 ms; with the listeners dropped, 8 % in 4-10 ms (BENCHMARKS.md,
 * "Closed streams and the young generation").
 *
 * 'close' is a stream's last event, and an emit calls the listeners it had
 * when it began, so the other 'close' listeners still run.
 */
export function forgetListeners(stream: http2.Http2Stream): void {
  // Node's own 'removeListener' listener goes first. It keeps per-session
  // counts of 'priority' and 'frameError' listeners, which Sluice never
  // adds; while it is there, removeAllListeners removes each listener one by
  // one and announces each removal (6 % of a unary call's CPU in the
  // harness's profile), without it the table is replaced at once.
  if (stream.listenerCount("priority") === 0 && stream.listenerCount("frameError") === 0) stream.removeAllListeners("removeListener");
  stream.removeAllListeners();
  // Nothing is emitted after 'close', but an 'error' without a listener would throw.
  stream.on("error", ignoreError);
}

function ignoreError(): void {}
