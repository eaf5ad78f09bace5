import type { OutgoingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import { encodeGrpcMessage } from "../grpc-message.js";
import { copyMetadata, type Metadata } from "../metadata.js";
import { encodeBinaryHeaderValue, encodeStatus } from "../status-details.js";

/**
 * The trailers that end a gRPC or gRPC-Web response: the handler's
 * trailers, the error's metadata, then grpc-status, grpc-message and (with
 * details) grpc-status-details-bin, a binary google.rpc.Status. The status
 * fields are set last, so metadata cannot fake them.
 */
export function statusTrailers(error: ConnectError | undefined, trailer: Metadata | undefined, out: OutgoingHttpHeaders): OutgoingHttpHeaders {
  copyMetadata(trailer, out);
  if (error === undefined) {
    out["grpc-status"] = "0";
    return out;
  }
  copyMetadata(error.metadata, out);
  out["grpc-status"] = String(error.code);
  out["grpc-message"] = encodeGrpcMessage(error.rawMessage);
  if (error.details.length > 0) out["grpc-status-details-bin"] = detailsHeader(error);
  else delete out["grpc-status-details-bin"];
  return out;
}

/**
 * grpc-status-details-bin of an error, encoded once per error object: the
 * gateway answers many calls with the same error (overload shedding).
 */
const encoded = new WeakMap<ConnectError, string>();

function detailsHeader(error: ConnectError): string {
  let value = encoded.get(error);
  if (value === undefined) {
    value = encodeBinaryHeaderValue(encodeStatus(error));
    encoded.set(error, value);
  }
  return value;
}
