/**
 * Counts complete gRPC messages (5-byte prefix + body) in a byte stream cut
 * into arbitrary chunks, without copying bodies: the lean clients only need
 * to know when a message is complete, and the check before each run has
 * already verified the contents.
 */
export class GrpcFrameCounter {
  readonly #prefix = Buffer.alloc(5);
  #prefixFill = 0;
  #bodyLeft = 0;
  #inBody = false;

  /** Returns how many messages this chunk completed. */
  push(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#inBody) {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        i += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) {
          this.#inBody = false;
          done++;
        }
        continue;
      }
      const take = Math.min(5 - this.#prefixFill, chunk.length - i);
      chunk.copy(this.#prefix, this.#prefixFill, i, i + take);
      this.#prefixFill += take;
      i += take;
      if (this.#prefixFill < 5) break;
      this.#prefixFill = 0;
      this.#bodyLeft = this.#prefix.readUInt32BE(1);
      if (this.#bodyLeft === 0) done++;
      else this.#inBody = true;
    }
    return done;
  }
}
