import http2 from "node:http2";
import type { NodeRequest, NodeResponse } from "../protocol/write-rpc-error.js";

/**
 * Ends the request side of a call once its response is complete, if the
 * client is still sending: a handler may answer before it has read the whole
 * request (e.g. it failed on a message over readMaxBytes).
 *
 * - HTTP/2: RST_STREAM with NO_ERROR, which tells the client to stop sending
 *   without failing the call (RFC 9113 §8.1). Otherwise the stream stays
 *   half-open, and a client blocked on flow control waits forever.
 * - HTTP/1.1: the rest of the body is read and dropped, so that the
 *   keep-alive connection can carry the next request. Node does this itself
 *   only when nobody started reading; a handler that stopped part-way leaves
 *   a reader behind (its 'readable' listener keeps the body from flowing),
 *   and the unread bytes would stall the connection for good.
 */
export function stopReadingOnceAnswered(req: NodeRequest, res: NodeResponse): void {
  const answered = () => {
    if ("stream" in req) {
      // req.complete means "read to its end" here; the stream knows whether the client is done.
      if (!req.stream.destroyed && req.stream.state.remoteClose !== 1) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    } else if (!req.complete) {
      req.removeAllListeners("readable");
      req.resume();
    }
  };
  // An HTTP/2 response emits 'finish' only once its stream has closed. Its
  // last frame, the trailers, is queued on the stream's 'wantTrailers' after
  // that event's listeners return: a reset sent from within one would
  // overtake it.
  if ("stream" in res) res.stream.once("wantTrailers", () => setImmediate(answered));
  else res.once("finish", answered);
}
