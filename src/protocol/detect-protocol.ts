/** The three RPC protocols Sluice serves. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect";

/**
 * Tells which protocol a request speaks from its Content-Type: gRPC and
 * gRPC-Web each have their own media types; everything else (application/json,
 * application/proto, application/connect+*, and GET requests) is Connect.
 */
export function detectProtocol(contentType: string | undefined): RpcProtocol {
  if (contentType === undefined || !contentType.startsWith("application/grpc")) return "connect";
  return contentType.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
}

/** True for Connect streaming requests (application/connect+proto, +json). */
export function isConnectStreaming(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith("application/connect+");
}
