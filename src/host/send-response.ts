import type { OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { respecGrpcMessage } from "../protocol/grpc-message.js";
import type { NodeResponse } from "../protocol/write-rpc-error.js";

/**
 * Writes a Connect handler's response to the Node response and resolves
 * once the last byte is handed to the socket (or rejects if the client went
 * away first). Headers go out with the first body chunk, not before, so a
 * handler can still set them while it computes its first message. Writes
 * wait for 'drain': a slow reader slows the handler down instead of making
 * the gateway buffer.
 *
 * (connect-node's universalResponseToNodeResponse does the same but waits
 * for an 'end' event that Node 20 responses never emit, so its promise never
 * settles; the call would never count as finished.)
 */
export async function sendResponse(uRes: UniversalServerResponse, res: NodeResponse): Promise<void> {
  const it = uRes.body?.[Symbol.asyncIterator]();
  let writing = false;
  try {
    if (it) {
      let chunk = await it.next();
      res.writeHead(uRes.status, toNodeHeaders(uRes.header));
      for (; chunk.done !== true; chunk = await it.next()) {
        writing = true;
        if (!(res as NodeJS.WritableStream).write(chunk.value)) await settle(res, false);
        writing = false;
      }
    }
    if (!res.headersSent) res.writeHead(uRes.status, toNodeHeaders(uRes.header));
    if (uRes.trailer) {
      const message = uRes.trailer.get("grpc-message");
      if (message !== null) uRes.trailer.set("grpc-message", respecGrpcMessage(message));
      res.addTrailers(toNodeHeaders(uRes.trailer) as Record<string, string>);
    }
    await settle(res, true);
  } catch (e) {
    // Tell the handler its output is not being delivered.
    if (writing) it?.throw?.(e).catch(() => {});
    throw e;
  } finally {
    it?.return?.().catch(() => {});
  }
}

export function toNodeHeaders(headers: Headers | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!headers) return out;
  headers.forEach((value, key) => {
    out[key] = key === "set-cookie" ? headers.getSetCookie() : value;
  });
  return out;
}

/**
 * Waits for 'drain' or, with `end`, for 'finish'. Rejects when the response
 * closes first (the client reset the stream or dropped the connection),
 * including when it closed before we started waiting.
 */
function settle(res: NodeResponse, end: boolean): Promise<void> {
  if (end) res.end();
  if (end ? res.writableFinished : !needsDrain(res)) return Promise.resolve();
  if (isClosed(res)) return Promise.reject(clientGone());
  const event = end ? "finish" : "drain";
  return new Promise((resolve, reject) => {
    const onDone = () => {
      res.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      res.off(event, onDone);
      if (end && res.writableFinished) resolve();
      else reject(clientGone());
    };
    res.once(event, onDone);
    res.once("close", onClose);
  });
}

/**
 * Http2ServerResponse has no writableNeedDrain in Node 20 (@types/node types
 * it as a Writable, but it is not one): reading it there gives undefined,
 * which would skip every wait and let a fast handler fill memory while
 * starving the event loop. Its stream knows.
 */
function needsDrain(res: NodeResponse): boolean {
  return "stream" in res ? res.stream.writableNeedDrain : res.writableNeedDrain;
}

function isClosed(res: NodeResponse): boolean {
  return "stream" in res ? res.stream.destroyed || res.stream.closed : res.destroyed;
}

function clientGone(): ConnectError {
  return new ConnectError("the client went away before the response was complete", Code.Canceled);
}
