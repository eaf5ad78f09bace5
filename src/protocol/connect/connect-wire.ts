import type { OutgoingHttpHeaders } from "node:http";
import type { JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope, endStreamFlag } from "../envelope.js";
import { copyMetadata, forEachMetadata, isEmptyMetadata, type Metadata } from "../metadata.js";
import type { Wire } from "../wire.js";
import { errorToJson } from "./error-json.js";
import { codeToHttpStatus } from "./http-status.js";

const emptyEndStream = encodeEnvelope(endStreamFlag, Buffer.from("{}"));

/** Connect streaming: envelopes, then an end-of-stream envelope (0x02) with JSON. */
export const connectStreamWire: Wire = {
  protocol: "connect",
  httpTrailers: false,
  unary: false,
  encodingHeader: "connect-content-encoding",
  acceptEncodingHeader: "connect-accept-encoding",
  timeoutHeader: "connect-timeout-ms",
  head(out, binary, encoding) {
    out["content-type"] = binary ? "application/connect+proto" : "application/connect+json";
    if (encoding !== undefined) out["connect-content-encoding"] = encoding;
  },
  end(error: ConnectError | undefined, trailer: Metadata | undefined) {
    if (error === undefined && isEmptyMetadata(trailer)) return { last: emptyEndStream };
    return { last: encodeEnvelope(endStreamFlag, Buffer.from(JSON.stringify(endStreamJson(error, trailer)), "utf8")) };
  },
};

/** { error?, metadata?: { name: [values] } }; the error's metadata joins the trailers. */
function endStreamJson(error: ConnectError | undefined, trailer: Metadata | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const metadata: Record<string, string[]> = {};
  let any = false;
  const add = (h: Metadata | undefined) => {
    if (h === undefined) return;
    forEachMetadata(h, (value, key) => {
      any = true;
      (metadata[key] ??= []).push(value);
    });
  };
  add(trailer);
  if (error !== undefined) {
    out.error = errorToJson(error);
    add(error.metadata);
  }
  if (any) out.metadata = metadata;
  return out;
}

/** Connect unary: the message is the body; trailers go out as `trailer-` headers. */
export const connectUnaryWire: Wire = {
  protocol: "connect",
  httpTrailers: false,
  unary: true,
  encodingHeader: "content-encoding",
  acceptEncodingHeader: "accept-encoding",
  timeoutHeader: "connect-timeout-ms",
  head(out, binary, encoding) {
    out["content-type"] = binary ? "application/proto" : "application/json";
    if (encoding !== undefined) out["content-encoding"] = encoding;
  },
  end() {
    return {};
  },
};

/**
 * A Connect unary error response: the HTTP status for the code, the
 * handler's headers, its trailers as `trailer-` headers, the error's
 * metadata, and the JSON error as the body.
 */
export function connectUnaryError(
  error: ConnectError,
  out: OutgoingHttpHeaders,
  header: Metadata | undefined,
  trailer: Metadata | undefined,
  json?: Partial<JsonWriteOptions>,
): { status: number; body: Buffer } {
  copyMetadata(header, out);
  copyMetadata(error.metadata, out);
  copyMetadata(trailer, out, "trailer-");
  out["content-type"] = "application/json";
  const body = Buffer.from(JSON.stringify(errorToJson(error, json)), "utf8");
  out["content-length"] = body.byteLength;
  return { status: codeToHttpStatus(error.code), body };
}
