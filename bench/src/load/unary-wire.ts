import type { UnaryProtocol } from "../arms/arm-catalog.js";
import type { EchoPayload } from "../echo-messages.js";

/** One unary request exactly as h2load sends it: headers and body bytes. */
export interface WireRequest {
  headers: Record<string, string>;
  body: Buffer;
}

export function unaryRequest(protocol: UnaryProtocol, payload: EchoPayload): WireRequest {
  switch (protocol) {
    case "grpc":
      return { headers: { "content-type": "application/grpc", te: "trailers" }, body: payload.frame };
    case "grpc-web":
      return { headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: payload.frame };
    case "connect-proto":
      return { headers: { "content-type": "application/proto", "connect-protocol-version": "1" }, body: Buffer.from(payload.binary) };
    case "connect-json":
      return { headers: { "content-type": "application/json", "connect-protocol-version": "1" }, body: Buffer.from(payload.json) };
  }
}
