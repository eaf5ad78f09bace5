/**
 * The request body of one call, read once from its source and kept (up to
 * `maxBytes`) so that a retry can send it again from the first byte. Each
 * attempt reads through its own reader; starting a new reader stops the
 * previous attempt's. Once more than `maxBytes` have been read, or the call
 * is committed to an attempt, nothing more is kept and the call can no
 * longer be retried: the bound on what a retry may cost in memory.
 *
 * Reading is pulled by the attempt's writer, so the source is read no faster
 * than the upstream takes the bytes: backpressure crosses it.
 */
export class RequestReplay {
  private chunks: Uint8Array[] = [];
  /** Absolute index of chunks[0]; chunks before it were dropped. */
  private base = 0;
  /** Chunks read from the source so far. */
  private total = 0;
  private bytes = 0;
  private retaining = true;
  private done = false;
  private failure: { error: unknown } | undefined;
  private pulling: Promise<void> | undefined;
  private generation = 0;
  private readonly iterator: AsyncIterator<Uint8Array> | undefined;

  constructor(
    source: AsyncIterable<Uint8Array> | undefined,
    private readonly maxBytes: number,
  ) {
    this.iterator = source?.[Symbol.asyncIterator]();
    if (source === undefined) this.done = true;
  }

  /** Whether a new attempt can still be sent the whole request. */
  get replayable(): boolean {
    return this.retaining;
  }

  /** Whether the source has failed (the caller's request stream broke). */
  get sourceError(): { error: unknown } | undefined {
    return this.failure;
  }

  /** The call is committed to its current attempt: stop keeping bytes. */
  commit(): void {
    this.retaining = false;
  }

  /** A reader from the first byte, for a new attempt. Earlier readers end. */
  reader(): AsyncIterable<Uint8Array> {
    const generation = ++this.generation;
    let index = this.base;
    const self = this;
    return {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            if (generation !== self.generation) return { done: true, value: undefined };
            if (index < self.total) {
              const chunk = self.chunks[index - self.base]!;
              index += 1;
              if (!self.retaining) self.dropBefore(index);
              return { done: false, value: chunk };
            }
            if (self.failure !== undefined) throw self.failure.error;
            if (self.done) return { done: true, value: undefined };
            await self.pull();
          }
        },
      }),
    };
  }

  /** Stops reading the source (the call is over). */
  close(): void {
    this.generation += 1;
    this.chunks = [];
    if (!this.done && this.failure === undefined) {
      this.done = true;
      void this.iterator?.return?.().catch(() => {});
    }
  }

  private pull(): Promise<void> {
    this.pulling ??= this.iterator!.next().then(
      (r) => {
        this.pulling = undefined;
        if (r.done === true) {
          this.done = true;
          return;
        }
        this.chunks.push(r.value);
        this.total += 1;
        if (this.retaining) {
          this.bytes += r.value.byteLength;
          if (this.bytes > this.maxBytes) this.retaining = false;
        }
      },
      (error: unknown) => {
        this.pulling = undefined;
        this.failure = { error };
      },
    );
    return this.pulling;
  }

  private dropBefore(index: number): void {
    const n = index - this.base;
    if (n <= 0) return;
    this.chunks.splice(0, n);
    this.base = index;
  }
}
