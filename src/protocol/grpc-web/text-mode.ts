/** Which halves of a gRPC-Web call are base64 text. */
export interface TextMode {
  /** The request body is base64 (Content-Type application/grpc-web-text). */
  decodeRequest: boolean;
  /** The response body is base64, each write on its own. */
  encodeResponse: boolean;
}

const both: TextMode = Object.freeze({ decodeRequest: true, encodeResponse: true });
const requestOnly: TextMode = Object.freeze({ decodeRequest: true, encodeResponse: false });
const responseOnly: TextMode = Object.freeze({ decodeRequest: false, encodeResponse: true });

/**
 * Text mode of a gRPC-Web call, from its Content-Type and Accept headers;
 * undefined when both halves are binary (the common case, decided here once
 * per call). The gRPC-Web spec has the client ask for a text response with
 * `Accept: application/grpc-web-text` (XHR can only read a streaming body
 * as text), so Accept decides the response: a text type asks for text, a
 * binary gRPC-Web type for binary; without either, the response is in the
 * request's format.
 */
export function grpcWebTextMode(requestIsText: boolean, accept: string | undefined): TextMode | undefined {
  if (accept !== undefined && accept.length >= 20) {
    const lower = accept.toLowerCase();
    if (lower.includes("application/grpc-web-text")) return requestIsText ? both : responseOnly;
    if (lower.includes("application/grpc-web")) return requestIsText ? requestOnly : undefined;
  }
  return requestIsText ? both : undefined;
}

/** The response Content-Type in text mode, for the binary one the wire chose. */
export function textContentType(binaryType: string): string {
  return binaryType.endsWith("+json") ? "application/grpc-web-text+json" : "application/grpc-web-text+proto";
}
