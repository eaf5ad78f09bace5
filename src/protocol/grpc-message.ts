/**
 * grpc-message, percent-encoded as the gRPC spec asks: only bytes outside
 * printable ASCII (0x20–0x7E) and "%" itself are escaped. (encodeURIComponent
 * would also escape ":", "/" and ",", which grpc-js users would then see,
 * since grpc-js decodes with decodeURI.)
 */
export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
