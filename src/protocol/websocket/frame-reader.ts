/** WebSocket opcodes (RFC 6455 §5.2). */
export const opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Receives what a FrameReader finds, in order. */
export interface FrameSink {
  /** A data message begins: its first frame's opcode was text or binary. */
  messageStart(binary: boolean): void;
  /**
   * Payload bytes of the current message, unmasked, as they arrive: a view
   * into the chunk (valid until the sink returns, unless kept), never
   * buffered whole, so a message's size is bounded by whoever reads it.
   */
  messageData(data: Uint8Array): void;
  /** The message's final frame ended. */
  messageEnd(): void;
  /** A whole control frame (close, ping or pong); may arrive between a message's frames. */
  control(code: number, payload: Uint8Array): void;
}

/** Why the bytes from a client are not a valid stream of frames; `closeCode` is what to close with. */
export interface FrameProblem {
  closeCode: 1002 | 1009;
  reason: string;
}

const maxHeaderBytes = 14;

/**
 * Splits the bytes a WebSocket client sends into frames as they arrive,
 * whatever the chunk boundaries (RFC 6455 §5). Client frames must be
 * masked; payloads are unmasked in place, in the chunk itself (the reader
 * owns the chunks it is given), and data payloads are handed on as views,
 * never copied. Control frames (at most 125 bytes) are assembled whole.
 *
 * No extension is negotiated, so RSV bits must be clear. The reader checks
 * the framing rules (masking, opcodes, fragmentation, control frame size);
 * what a message means is the sink's business.
 */
export class FrameReader {
  /** Bytes of a header split across chunks. */
  readonly #head = Buffer.alloc(maxHeaderBytes);
  #headLength = 0;
  /** Payload bytes left in the current frame; -1 between frames. */
  #left = -1;
  readonly #mask = Buffer.alloc(4);
  /** Payload bytes of the current frame seen so far (the mask's phase). */
  #offset = 0;
  /** The current frame: a control frame's code, or -1 for a data frame. */
  #control = -1;
  #controlPayload: Buffer | undefined;
  #fin = false;
  /** A data message is open (its final frame has not ended). */
  #inMessage = false;

  /** Feeds one chunk; returns a problem (and nothing more should be fed) when the framing is broken. */
  push(chunk: Buffer, sink: FrameSink): FrameProblem | undefined {
    let i = 0;
    const n = chunk.byteLength;
    while (i < n) {
      if (this.#left < 0) {
        const need = this.#headerSize(chunk, i, n);
        if (need === undefined) {
          // Not enough bytes to know the header's size yet: keep what there is.
          chunk.copy(this.#head, this.#headLength, i, n);
          this.#headLength += n - i;
          return undefined;
        }
        if (typeof need !== "number") return need;
        const take = need - this.#headLength;
        if (n - i < take) {
          chunk.copy(this.#head, this.#headLength, i, n);
          this.#headLength += n - i;
          return undefined;
        }
        chunk.copy(this.#head, this.#headLength, i, i + take);
        i += take;
        this.#headLength = 0;
        const problem = this.#startFrame(need, sink);
        if (problem !== undefined) return problem;
        if (this.#left === 0) this.#endFrame(sink);
        continue;
      }
      const take = Math.min(this.#left, n - i);
      const data = chunk.subarray(i, i + take);
      unmask(data, this.#mask, this.#offset);
      this.#offset += take;
      this.#left -= take;
      i += take;
      if (this.#control >= 0) this.#controlPayload!.set(data, this.#offset - take);
      else sink.messageData(data);
      if (this.#left === 0) this.#endFrame(sink);
    }
    return undefined;
  }

  /**
   * The size of the header that starts at chunk[i] (with any bytes already
   * kept), once its second byte is known; undefined before that.
   */
  #headerSize(chunk: Buffer, i: number, n: number): number | FrameProblem | undefined {
    const have = this.#headLength;
    if (have + (n - i) < 2) return undefined;
    const second = have >= 2 ? this.#head[1]! : chunk[i + 1 - have]!;
    if ((second & 0x80) === 0) return { closeCode: 1002, reason: "client frames must be masked" };
    const len7 = second & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
  }

  #startFrame(size: number, sink: FrameSink): FrameProblem | undefined {
    const h = this.#head;
    const first = h[0]!;
    if ((first & 0x70) !== 0) return { closeCode: 1002, reason: "reserved bits set without a negotiated extension" };
    const code = first & 0x0f;
    this.#fin = (first & 0x80) !== 0;
    const len7 = h[1]! & 0x7f;
    let length: number;
    if (len7 === 126) {
      length = h.readUInt16BE(2);
    } else if (len7 === 127) {
      const high = h.readUInt32BE(2);
      if (high & 0x80000000) return { closeCode: 1002, reason: "a 64-bit payload length with its top bit set" };
      if (high >= 0x200000) return { closeCode: 1009, reason: "frame too large" };
      length = high * 0x1_0000_0000 + h.readUInt32BE(6);
    } else {
      length = len7;
    }
    h.copy(this.#mask, 0, size - 4, size);
    this.#offset = 0;
    this.#left = length;
    if (code >= 0x8) {
      if (code !== opcode.close && code !== opcode.ping && code !== opcode.pong) return { closeCode: 1002, reason: `unknown control opcode 0x${code.toString(16)}` };
      if (!this.#fin) return { closeCode: 1002, reason: "a fragmented control frame" };
      if (length > 125) return { closeCode: 1002, reason: "a control frame longer than 125 bytes" };
      this.#control = code;
      this.#controlPayload = Buffer.allocUnsafe(length);
      return undefined;
    }
    this.#control = -1;
    if (code === opcode.continuation) {
      if (!this.#inMessage) return { closeCode: 1002, reason: "a continuation frame outside a message" };
    } else if (code === opcode.text || code === opcode.binary) {
      if (this.#inMessage) return { closeCode: 1002, reason: "a new message before the last one's final frame" };
      this.#inMessage = true;
      sink.messageStart(code === opcode.binary);
    } else {
      return { closeCode: 1002, reason: `unknown data opcode 0x${code.toString(16)}` };
    }
    return undefined;
  }

  #endFrame(sink: FrameSink): void {
    this.#left = -1;
    if (this.#control >= 0) {
      const payload = this.#controlPayload!;
      this.#controlPayload = undefined;
      sink.control(this.#control, payload);
      return;
    }
    if (this.#fin) {
      this.#inMessage = false;
      sink.messageEnd();
    }
  }
}

/** XORs `data` with the mask in place, starting at the mask's byte `offset % 4`. */
function unmask(data: Buffer, mask: Buffer, offset: number): void {
  const n = data.byteLength;
  const m0 = mask[offset & 3]!;
  const m1 = mask[(offset + 1) & 3]!;
  const m2 = mask[(offset + 2) & 3]!;
  const m3 = mask[(offset + 3) & 3]!;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  const rest = [m0, m1, m2];
  for (let k = 0; i < n; i++, k++) data[i] = data[i]! ^ rest[k]!;
}
