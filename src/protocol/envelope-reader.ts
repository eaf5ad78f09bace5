import { envelopeHeaderBytes } from "./envelope.js";

/** Receives the frames a reader completes: flags, and the payload (a view into the chunk when the frame arrived whole). */
export interface EnvelopeSink {
  onEnvelope(flags: number, data: Uint8Array): void;
}

/** Why a body could not be split into frames. */
export type EnvelopeProblem =
  | { kind: "too-large"; size: number; limit: number }
  | { kind: "truncated"; have: number; want: number };

/**
 * Splits a request body into envelopes as its chunks arrive, whatever the
 * chunk boundaries. The size a frame announces is checked against `limit`
 * before anything is allocated for it, so a peer cannot make the gateway
 * reserve memory by announcing a large frame.
 *
 * A frame that arrives whole inside one chunk is handed out as a view into
 * that chunk (no copy); only frames split across chunks are assembled.
 */
export class EnvelopeReader {
  /** Bytes of an incomplete header (fewer than 5), allocated when a header is split. */
  #head: Buffer | undefined;
  #headLength = 0;
  /** The frame being assembled across chunks. */
  #flags = 0;
  #body: Uint8Array | undefined;
  #bodyLength = 0;

  constructor(readonly limit: number) {}

  /** True when the bytes seen so far end exactly at a frame boundary. */
  get atBoundary(): boolean {
    return this.#headLength === 0 && this.#body === undefined;
  }

  /**
   * Feeds one chunk; calls `sink.onEnvelope` for every frame it completes,
   * in order. Returns a problem instead of throwing when a frame is too
   * large; nothing more should be fed after that.
   */
  push(chunk: Uint8Array, sink: EnvelopeSink): EnvelopeProblem | undefined {
    let i = 0;
    const n = chunk.byteLength;
    while (i < n) {
      if (this.#body !== undefined) {
        const take = Math.min(this.#body.byteLength - this.#bodyLength, n - i);
        this.#body.set(chunk.subarray(i, i + take), this.#bodyLength);
        this.#bodyLength += take;
        i += take;
        if (this.#bodyLength === this.#body.byteLength) {
          const data = this.#body;
          this.#body = undefined;
          sink.onEnvelope(this.#flags, data);
        }
        continue;
      }
      let flags: number;
      let size: number;
      if (this.#headLength === 0 && n - i >= envelopeHeaderBytes) {
        // The common case: the header is all in this chunk.
        flags = chunk[i]!;
        size = ((chunk[i + 1]! << 24) | (chunk[i + 2]! << 16) | (chunk[i + 3]! << 8) | chunk[i + 4]!) >>> 0;
        i += envelopeHeaderBytes;
      } else {
        const head = (this.#head ??= Buffer.alloc(envelopeHeaderBytes));
        const take = Math.min(envelopeHeaderBytes - this.#headLength, n - i);
        head.set(chunk.subarray(i, i + take), this.#headLength);
        this.#headLength += take;
        i += take;
        if (this.#headLength < envelopeHeaderBytes) break;
        this.#headLength = 0;
        flags = head[0]!;
        size = head.readUInt32BE(1);
      }
      if (size > this.limit) return { kind: "too-large", size, limit: this.limit };
      if (n - i >= size) {
        sink.onEnvelope(flags, chunk.subarray(i, i + size));
        i += size;
      } else {
        this.#flags = flags;
        this.#body = new Uint8Array(size);
        this.#bodyLength = 0;
      }
    }
    return undefined;
  }

  /** At the end of the body: a problem if a frame was cut short. */
  end(): EnvelopeProblem | undefined {
    if (this.#body !== undefined) return { kind: "truncated", have: this.#bodyLength, want: this.#body.byteLength };
    if (this.#headLength > 0) return { kind: "truncated", have: this.#headLength, want: envelopeHeaderBytes };
    return undefined;
  }
}
