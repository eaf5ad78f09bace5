/** The three RPC protocols Sluice serves. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect";

/** What a request's Content-Type says about how to read and answer it. */
export interface RequestType {
  protocol: RpcProtocol;
  /** Messages are protobuf binary (else JSON). */
  binary: boolean;
  /** Connect: application/connect+* (enveloped streaming) rather than unary. */
  stream: boolean;
  /** gRPC-Web: the base64 text mode (application/grpc-web-text). */
  text: boolean;
}

const grpc = /^application\/grpc(?:\+(?:(json)(?:; ?charset=utf-?8)?|proto))?$/i;
const grpcWeb = /^application\/grpc-web(-text(?:-base64)?)?(?:\+(?:(json)(?:; ?charset=utf-?8)?|proto))?$/i;
const connect = /^application\/(connect\+)?(?:(json)(?:; ?charset=utf-?8)?|proto)$/i;

// The values clients send almost always, answered without a regular expression.
const common = new Map<string, RequestType>([
  ["application/grpc", { protocol: "grpc", binary: true, stream: true, text: false }],
  ["application/grpc+proto", { protocol: "grpc", binary: true, stream: true, text: false }],
  ["application/grpc-web+proto", { protocol: "grpc-web", binary: true, stream: true, text: false }],
  ["application/grpc-web", { protocol: "grpc-web", binary: true, stream: true, text: false }],
  ["application/grpc-web-text", { protocol: "grpc-web", binary: true, stream: true, text: true }],
  ["application/proto", { protocol: "connect", binary: true, stream: false, text: false }],
  ["application/json", { protocol: "connect", binary: false, stream: false, text: false }],
  ["application/connect+proto", { protocol: "connect", binary: true, stream: true, text: false }],
  ["application/connect+json", { protocol: "connect", binary: false, stream: true, text: false }],
]);

/**
 * Reads the protocol, codec and framing from a Content-Type header value.
 * Undefined for anything that is not one of the three protocols' types.
 */
export function parseContentType(value: string | undefined): RequestType | undefined {
  if (value === undefined) return undefined;
  const known = common.get(value);
  if (known) return known;
  let m = grpc.exec(value);
  if (m) return { protocol: "grpc", binary: !m[1], stream: true, text: false };
  m = grpcWeb.exec(value);
  if (m) return { protocol: "grpc-web", binary: !m[2], stream: true, text: !!m[1] };
  m = connect.exec(value);
  if (m) return { protocol: "connect", binary: !m[2], stream: !!m[1], text: false };
  return undefined;
}

/**
 * The protocol a request is trying to speak, for answering it in kind even
 * when its Content-Type is not one Sluice serves (then it is Connect).
 */
export function guessProtocol(contentType: string | undefined): RpcProtocol {
  if (contentType === undefined) return "connect";
  const lower = contentType.toLowerCase();
  if (!lower.startsWith("application/grpc")) return "connect";
  return lower.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
}

/** Content types the gateway serves, for the 415 answer. */
export const servedContentTypes = [
  "application/grpc",
  "application/grpc+proto",
  "application/grpc+json",
  "application/grpc-web+proto",
  "application/grpc-web+json",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/proto",
  "application/json",
  "application/connect+proto",
  "application/connect+json",
];
