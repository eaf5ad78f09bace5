/**
 * grpc-message, percent-encoded as the gRPC spec asks: only bytes outside
 * printable ASCII (0x20–0x7E) and "%" itself are escaped.
 *
 * connect-es escapes with encodeURIComponent, which also escapes ":", "/",
 * "," and friends. Spec decoders (grpc-go) undo either, but grpc-js decodes
 * with decodeURI, which leaves "%3A" in the message its users see. Sending
 * the spec's minimal form reads right in every client.
 */
export function respecGrpcMessage(encoded: string): string {
  let raw: string;
  try {
    raw = decodeURIComponent(encoded);
  } catch {
    return encoded; // not ours to fix
  }
  return encodeGrpcMessage(raw);
}

export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
