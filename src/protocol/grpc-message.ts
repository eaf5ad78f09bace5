/**
 * grpc-message, percent-encoded as the gRPC spec asks: only bytes outside
 * printable ASCII (0x20–0x7E) and "%" itself are escaped. (encodeURIComponent
 * would also escape ":", "/" and ",", which grpc-js users would then see,
 * since grpc-js decodes with decodeURI.) A space at either end is escaped
 * too: an HTTP/2 field value must not start or end with whitespace (RFC 9113
 * §8.2.1), and Node's HTTP/2 client drops a field that does.
 */
export function encodeGrpcMessage(message: string): string {
  if (/^(?:[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?)?$/.test(message)) return message;
  const bytes = Buffer.from(message, "utf8");
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    const edgeSpace = byte === 0x20 && (i === 0 || i === bytes.length - 1);
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 && !edgeSpace ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
