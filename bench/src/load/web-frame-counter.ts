/**
 * Counts the message frames of a gRPC-Web response body cut into arbitrary
 * chunks, and keeps the trailer frame (flag 0x80) to read grpc-status from.
 * A header frame (the first 0x80 frame of a WebSocket response) is skipped
 * when `headerFrameFirst`.
 */
export class WebFrameCounter {
  readonly #prefix = Buffer.alloc(5);
  #prefixFill = 0;
  #bodyLeft = 0;
  #inBody = false;
  #flags = 0;
  #skipHeader: boolean;
  #trailer: Buffer[] | undefined;
  /** grpc-status from the trailer frame, once it is complete. */
  status: string | undefined;

  constructor(headerFrameFirst = false) {
    this.#skipHeader = headerFrameFirst;
  }

  /** Returns how many message frames this chunk completed. */
  push(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#inBody) {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        if (this.#trailer) this.#trailer.push(chunk.subarray(i, i + take));
        i += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) done += this.#frameEnd();
        continue;
      }
      const take = Math.min(5 - this.#prefixFill, chunk.length - i);
      chunk.copy(this.#prefix, this.#prefixFill, i, i + take);
      this.#prefixFill += take;
      i += take;
      if (this.#prefixFill < 5) break;
      this.#prefixFill = 0;
      this.#flags = this.#prefix[0]!;
      this.#bodyLeft = this.#prefix.readUInt32BE(1);
      const isTrailer = (this.#flags & 0x80) !== 0 && !this.#skipHeader;
      this.#trailer = isTrailer ? [] : undefined;
      if (this.#bodyLeft === 0) done += this.#frameEnd();
      else this.#inBody = true;
    }
    return done;
  }

  #frameEnd(): number {
    this.#inBody = false;
    if ((this.#flags & 0x80) === 0) return 1;
    if (this.#skipHeader) {
      this.#skipHeader = false;
      return 0;
    }
    const text = Buffer.concat(this.#trailer ?? []).toString();
    this.status = /^grpc-status: ?(\d+)\r?$/m.exec(text)?.[1] ?? "no grpc-status in the trailer";
    return 0;
  }
}
