import type { OutgoingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import type { Metadata } from "../metadata.js";
import type { Wire } from "../wire.js";
import { statusTrailers } from "./status-trailers.js";

/** gRPC over HTTP/2: envelopes, then the status in HTTP trailers. */
export const grpcWire: Wire = {
  protocol: "grpc",
  httpTrailers: true,
  unary: false,
  encodingHeader: "grpc-encoding",
  acceptEncodingHeader: "grpc-accept-encoding",
  timeoutHeader: "grpc-timeout",
  head(out, binary, encoding) {
    out["content-type"] = binary ? "application/grpc+proto" : "application/grpc+json";
    if (encoding !== undefined) out["grpc-encoding"] = encoding;
  },
  end(error: ConnectError | undefined, trailer: Metadata | undefined) {
    return { trailers: statusTrailers(error, trailer, {}) };
  },
};

/**
 * A gRPC Trailers-Only response: the status in the only HEADERS frame, for
 * errors raised before any handler ran.
 */
export function grpcTrailersOnly(error: ConnectError, out: OutgoingHttpHeaders, contentType = "application/grpc"): OutgoingHttpHeaders {
  out["content-type"] = contentType;
  return statusTrailers(error, undefined, out);
}
