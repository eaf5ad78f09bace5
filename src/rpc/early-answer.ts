import type { OutgoingHttpHeaders } from "node:http";
import { Code, type ConnectError } from "@connectrpc/connect";
import { connectStreamWire, connectUnaryError } from "../protocol/connect/connect-wire.js";
import { guessProtocol, servedContentTypes } from "../protocol/content-type.js";
import { grpcTrailersOnly } from "../protocol/grpc/grpc-wire.js";
import { grpcWebWire } from "../protocol/grpc-web/grpc-web-wire.js";
import { headerValue } from "../protocol/metadata.js";
import type { Exchange } from "./exchange.js";

/**
 * Answers a request with an error in the request's own protocol, for errors
 * raised before any handler runs (unknown method, draining, flow limits):
 *
 * - gRPC: a Trailers-Only response, grpc-status in the only HEADERS frame.
 * - gRPC-Web: HTTP 200 and a trailer frame in the body, which a browser can
 *   always read (headers need CORS exposure).
 * - Connect unary and GET: the HTTP status for the code and the JSON error;
 *   UNIMPLEMENTED (no function serves the path) is 404 Not Found, which is
 *   what Connect servers answer for an unknown path and what clients read
 *   as UNIMPLEMENTED (501 would say the method exists but is not built).
 * - Connect streaming: HTTP 200 and an end-of-stream message with the error.
 *
 * `out` holds the headers every response carries (request id, CORS). No
 * handler runs for the request: the exchange is released.
 */
export function answerEarlyError(x: Exchange, error: ConnectError, out: OutgoingHttpHeaders): void {
  const contentType = headerValue(x.headers["content-type"]);
  const protocol = guessProtocol(contentType);
  if (protocol === "grpc") {
    x.respond(200, grpcTrailersOnly(error, out, contentType), "end");
  } else if (protocol === "grpc-web") {
    grpcWebWire.head(out, !/json/i.test(contentType ?? ""), undefined);
    x.respond(200, out, "body");
    x.end(grpcWebWire.end(error, undefined, true).last);
  } else if (contentType !== undefined && contentType.toLowerCase().startsWith("application/connect+")) {
    connectStreamWire.head(out, !/json/i.test(contentType), undefined);
    x.respond(200, out, "body");
    x.end(connectStreamWire.end(error, undefined, true).last);
  } else {
    const { status, body } = connectUnaryError(error, out, undefined, undefined);
    x.respond(error.code === Code.Unimplemented ? 404 : status, out, "body");
    x.end(body);
  }
  x.stopReading();
  x.release();
}

/** A plain HTTP answer for a request no protocol can take (415, 405, 505); `reason` replaces the 415's about the content type. */
export function answerHttp(x: Exchange, status: 405 | 415 | 505, out: OutgoingHttpHeaders, allow?: string, reason?: string): void {
  let text: string;
  if (status === 415) {
    const given = headerValue(x.headers["content-type"]);
    text = reason !== undefined ? `${reason}\n` : `unsupported content type ${given === undefined ? "(none)" : JSON.stringify(given)}; RPCs are served as ${servedContentTypes.join(", ")}\n`;
  } else if (status === 405) {
    out.allow = allow ?? "POST";
    text = `method ${x.method} is not allowed here; use ${allow ?? "POST"}\n`;
  } else {
    // Clients coded to expect full-duplex may hang on HTTP/1.1: close the connection.
    out.connection = "close";
    text = "bidi streams require HTTP/2\n";
  }
  const body = Buffer.from(text);
  out["content-type"] = "text/plain; charset=utf-8";
  out["content-length"] = body.byteLength;
  x.respond(status, out, "body");
  x.end(body);
  x.stopReading();
  x.release();
}
