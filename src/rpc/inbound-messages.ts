import type { ConnectError } from "@connectrpc/connect";

/**
 * Above either bound the body stops being read until the handler catches up.
 * Bytes are decompressed bytes (what the queue holds, not what the wire
 * carried), so a compressed message stops reading as soon as it is inflated.
 */
const highWaterMessages = 16;
const highWaterBytes = 64 * 1024;

const doneResult: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The request messages of a client- or bidi-streaming call, as the
 * AsyncIterable the handler reads. Messages wait here between arriving and
 * being taken; past a small bound (in messages and in decompressed bytes)
 * `pause` is called, which stops reading the body and inflating what was
 * already read, and HTTP/2 flow control then holds the client back. A
 * handler that stops iterating (break, return) calls `onReturn`, which lets
 * the gateway stop reading the body.
 *
 * With `pace` (limits messagesPerSecond), a message is handed to the
 * handler only when pace() says so (0), otherwise after the ms it returns:
 * the queue then fills, reading pauses, and flow control slows the client
 * down to the rate without dropping anything.
 */
export class InboundMessages<T> implements AsyncIterableIterator<T> {
  #queue: T[] = [];
  #sizes: number[] = [];
  #bytes = 0;
  #paused = false;
  #ended = false;
  #error: ConnectError | undefined;
  #returned = false;
  #waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;

  #pacing: NodeJS.Timeout | undefined;

  constructor(private readonly flow: { pause(): void; resume(): void; onReturn(): void; pace?: () => number }) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** A message arrived (`size`: its decompressed bytes, what it costs to hold). */
  push(message: T, size: number): void {
    if (this.#ended || this.#returned) return;
    const w = this.#waiter;
    if (w !== undefined && this.#pacing === undefined) {
      const wait = this.#paced();
      if (wait === 0) {
        this.#waiter = undefined;
        w.resolve({ done: false, value: message });
        return;
      }
      this.#schedule(wait);
    }
    this.#queue.push(message);
    this.#sizes.push(size);
    this.#bytes += size;
    if (!this.#paused && (this.#queue.length >= highWaterMessages || this.#bytes >= highWaterBytes)) {
      this.#paused = true;
      this.flow.pause();
    }
  }

  /** The client closed its side: the handler sees the end after the queued messages. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#queue.length === 0) this.#settle();
  }

  /** Reading failed (bad frame, too large) or the call ended: the handler's next read throws. */
  fail(error: ConnectError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    clearTimeout(this.#pacing);
    this.#pacing = undefined;
    this.#queue = [];
    this.#sizes = [];
    this.#bytes = 0;
    this.#settle();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) {
      const wait = this.#paced();
      if (wait > 0) return this.#later(wait);
      const value = this.#queue.shift() as T;
      this.#bytes -= this.#sizes.shift()!;
      if (this.#paused && this.#queue.length === 0) {
        this.#paused = false;
        this.flow.resume();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#ended || this.#returned) {
      return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve(doneResult);
    }
    if (this.#paused) {
      this.#paused = false;
      this.flow.resume();
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#returned && !this.#ended) {
      this.#returned = true;
      clearTimeout(this.#pacing);
      this.#pacing = undefined;
      this.#queue = [];
      this.#sizes = [];
      this.#bytes = 0;
      this.flow.onReturn();
    }
    return Promise.resolve(doneResult);
  }

  /** ms until the next message may be handed over (0: now, and pace() has counted it). */
  #paced(): number {
    const pace = this.flow.pace;
    return pace === undefined ? 0 : pace();
  }

  /** Waits out the pace, then answers the handler's read. */
  #later(wait: number): Promise<IteratorResult<T>> {
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#schedule(wait);
    });
  }

  #schedule(ms: number): void {
    clearTimeout(this.#pacing);
    this.#pacing = setTimeout(() => {
      this.#pacing = undefined;
      const w = this.#waiter;
      if (w === undefined) return;
      this.#waiter = undefined;
      this.next().then(w.resolve, w.reject);
    }, Math.max(1, ms));
  }

  #settle(): void {
    const w = this.#waiter;
    if (w === undefined) return;
    this.#waiter = undefined;
    if (this.#error !== undefined) w.reject(this.#error);
    else w.resolve(doneResult);
  }
}
