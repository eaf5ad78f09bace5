import type { OutgoingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope, trailerFlag } from "../envelope.js";
import { statusTrailers } from "../grpc/status-trailers.js";
import { isEmptyMetadata, type Metadata } from "../metadata.js";
import type { Wire } from "../wire.js";

/** The trailer frame of every successful call without trailers of its own. */
const okFrame = encodeTrailerFrame({ "grpc-status": "0" });

/** gRPC-Web: envelopes, then the status in a trailer frame (0x80) in the body. */
export const grpcWebWire: Wire = {
  protocol: "grpc-web",
  httpTrailers: false,
  unary: false,
  encodingHeader: "grpc-encoding",
  acceptEncodingHeader: "grpc-accept-encoding",
  timeoutHeader: "grpc-timeout",
  head(out, binary, encoding) {
    out["content-type"] = binary ? "application/grpc-web+proto" : "application/grpc-web+json";
    if (encoding !== undefined) out["grpc-encoding"] = encoding;
  },
  end(error: ConnectError | undefined, trailer: Metadata | undefined) {
    if (error === undefined && isEmptyMetadata(trailer)) return { last: okFrame };
    return { last: encodeTrailerFrame(statusTrailers(error, trailer, {})) };
  },
};

/** Trailers as gRPC-Web sends them: lower-case "name: value\r\n" lines in a 0x80 frame. */
export function encodeTrailerFrame(trailers: OutgoingHttpHeaders): Buffer {
  let text = "";
  for (const [name, value] of Object.entries(trailers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  return encodeEnvelope(trailerFlag, Buffer.from(text, "utf8"));
}

