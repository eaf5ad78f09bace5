/**
 * The length-prefixed message frame shared by gRPC, gRPC-Web and Connect
 * streaming: one flags byte, a 4-byte big-endian length, the payload.
 */

/** The payload is compressed with the stream's negotiated encoding. */
export const compressedFlag = 0b0000_0001;
/** Connect streaming: the end-of-stream message (JSON). */
export const endStreamFlag = 0b0000_0010;
/** gRPC-Web: the trailers frame ("key: value\r\n" lines). */
export const trailerFlag = 0b1000_0000;

export const envelopeHeaderBytes = 5;

/**
 * Frames `payload` in one buffer. Copying a payload into the frame is
 * cheaper than a second write for the sizes RPCs carry; a payload that is
 * already a Buffer slice is copied once, by the runtime's memcpy.
 */
export function encodeEnvelope(flags: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(envelopeHeaderBytes + payload.byteLength);
  out[0] = flags;
  out.writeUInt32BE(payload.byteLength, 1);
  out.set(payload, envelopeHeaderBytes);
  return out;
}

/** Writes the envelope header into the first 5 bytes of a frame whose payload follows them. */
export function writeEnvelopeHeader(frame: Buffer, flags: number): void {
  frame[0] = flags;
  frame.writeUInt32BE(frame.byteLength - envelopeHeaderBytes, 1);
}
