import { opcode } from "./frame-reader.js";

/**
 * The header of one unfragmented, unmasked frame (server to client,
 * RFC 6455 §5.2): FIN, the opcode and the payload length.
 */
export function frameHeader(code: number, length: number): Buffer {
  if (length < 126) {
    const h = Buffer.allocUnsafe(2);
    h[0] = 0x80 | code;
    h[1] = length;
    return h;
  }
  if (length < 0x1_0000) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x80 | code;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x80 | code;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
  h.writeUInt32BE(length >>> 0, 6);
  return h;
}

/** One whole frame in one buffer (for control frames and small messages). */
export function encodeFrame(code: number, payload: Uint8Array): Buffer {
  const head = frameHeader(code, payload.byteLength);
  const out = Buffer.allocUnsafe(head.byteLength + payload.byteLength);
  head.copy(out, 0);
  out.set(payload, head.byteLength);
  return out;
}

/** A close frame with a status code and a reason cut to fit the 125-byte limit. */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, "utf8");
  if (text.byteLength > 123) text = Buffer.from(cutUtf8(reason, 120) + "...", "utf8");
  const payload = Buffer.allocUnsafe(2 + text.byteLength);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return encodeFrame(opcode.close, payload);
}

/** A close frame's payload read (RFC 6455 §5.5.1, §7.4); a problem when the code or reason is malformed. */
export function parseClose(payload: Uint8Array): { code: number | undefined; reason: string } | { problem: string } {
  if (payload.byteLength === 0) return { code: undefined, reason: "" };
  if (payload.byteLength === 1) return { problem: "a close frame with a one-byte payload" };
  const code = (payload[0]! << 8) | payload[1]!;
  const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  if (!valid) return { problem: `close code ${code} may not be sent` };
  try {
    return { code, reason: new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2)) };
  } catch {
    return { problem: "a close reason that is not UTF-8" };
  }
}

function cutUtf8(s: string, bytes: number): string {
  let out = "";
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}
