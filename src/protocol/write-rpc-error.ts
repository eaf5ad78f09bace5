import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { detectProtocol, isConnectStreaming } from "./detect-protocol.js";
import { respecGrpcMessage } from "./grpc-message.js";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

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
 * `extraHeaders` are sent with the response (CORS, request id).
 */
export function writeRpcError(
  req: NodeRequest,
  res: NodeResponse,
  error: ConnectError,
  extraHeaders: Record<string, string | string[] | number> = {},
): void {
  const contentType = req.headers["content-type"];
  const protocol = detectProtocol(contentType);
  const headers: Record<string, string | string[] | number> = { ...extraHeaders };
  let body: Uint8Array | undefined;
  let status = 200;
  if (protocol === "grpc") {
    headers["content-type"] = contentType ?? "application/grpc";
    setTrailerStatus(new Headers(), error).forEach((value, key) => {
      headers[key] = key === "grpc-message" ? respecGrpcMessage(value) : value;
    });
  } else if (protocol === "grpc-web") {
    headers["content-type"] = contentType ?? "application/grpc-web+proto";
    body = encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(new Headers(), error)));
  } else if (isConnectStreaming(contentType)) {
    headers["content-type"] = contentType!;
    const json = JSON.stringify(endStreamToJson(new Headers(), error, {}));
    body = encodeEnvelope(endStreamFlag, new TextEncoder().encode(json));
  } else {
    status = error.code === Code.Unimplemented ? 404 : codeToHttpStatus(error.code);
    headers["content-type"] = "application/json";
    body = errorToJsonBytes(error, {});
  }
  if (body) headers["content-length"] = body.byteLength;
  // Drain what the client sends so that it sees our answer instead of a reset.
  req.resume();
  if (!body && "stream" in res) {
    // A true Trailers-Only response: one HEADERS frame with END_STREAM.
    res.stream.respond({ ":status": status, ...headers }, { endStream: true });
    return;
  }
  (res as ServerResponse).writeHead(status, headers);
  (res as ServerResponse).end(body);
}

