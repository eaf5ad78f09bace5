import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "../protocol/compression.js";
import { compressedFlag } from "../protocol/envelope.js";
import { EnvelopeReader, type EnvelopeProblem, type EnvelopeSink } from "../protocol/envelope-reader.js";
import type { Exchange } from "./exchange.js";

/** Where the messages of a request body go, in order. */
export interface MessageSink {
  /** One message's bytes, decompressed; `size` is what it took on the wire. */
  message(bytes: Uint8Array, size: number): void;
  end(): void;
  fail(error: ConnectError): void;
}

export interface BodyOptions {
  /** Envelopes (gRPC, gRPC-Web, Connect streaming), or one raw message (Connect unary). */
  enveloped: boolean;
  /** readMaxBytes: the largest message, compressed or not. */
  limit: number;
  /** How compressed messages are encoded; null: none may be. */
  compression: Compression | null;
}

/**
 * Reads an RPC request body from the exchange and hands its messages to a
 * sink: split into envelopes (or taken whole), size-checked before they are
 * buffered, decompressed with the same limit. Decompression is async;
 * messages still reach the sink in the order they were sent.
 *
 * `pause`/`resume` stop and restart reading (flow control); `detach` stops
 * listening for good once the call no longer needs the body.
 */
export class RequestBody implements EnvelopeSink {
  readonly #x: Exchange;
  readonly #opt: BodyOptions;
  readonly #sink: MessageSink;
  readonly #reader: EnvelopeReader | undefined;
  /** Connect unary: the body's chunks so far. */
  #chunks: Buffer[] | undefined;
  #chunkBytes = 0;
  /** Set while a decompression is running; later messages queue behind it. */
  #chain: Promise<void> | undefined;
  #failed = false;
  #ended = false;
  #detached = false;

  constructor(x: Exchange, opt: BodyOptions, sink: MessageSink) {
    this.#x = x;
    this.#opt = opt;
    this.#sink = sink;
    if (opt.enveloped) this.#reader = new EnvelopeReader(opt.limit);
    else this.#chunks = [];
    const body = x.body;
    body.on("data", this.#onData);
    body.on("end", this.#onEnd);
  }

  /** True once the client has sent its whole body. */
  get ended(): boolean {
    return this.#ended;
  }

  pause(): void {
    if (!this.#detached) this.#x.body.pause();
  }

  resume(): void {
    if (!this.#detached) this.#x.body.resume();
  }

  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    // A body that has ended emits nothing more; removing stream listeners
    // costs more than the rest of a unary call's bookkeeping.
    if (this.#ended) return;
    const body = this.#x.body;
    body.off("data", this.#onData);
    body.off("end", this.#onEnd);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#failed) return;
    const reader = this.#reader;
    if (reader !== undefined) {
      const problem = reader.push(chunk, this);
      if (problem !== undefined) this.#fail(problemError(problem));
      return;
    }
    this.#chunkBytes += chunk.byteLength;
    if (this.#chunkBytes > this.#opt.limit) {
      this.#fail(tooLarge(this.#chunkBytes, this.#opt.limit));
      return;
    }
    this.#chunks!.push(chunk);
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    if (this.#failed) return;
    if (this.#reader !== undefined) {
      const problem = this.#reader.end();
      if (problem !== undefined) return this.#fail(problemError(problem));
    } else {
      const chunks = this.#chunks!;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#chunkBytes);
      this.#chunks = undefined;
      this.#deliver(bytes, this.#opt.compression !== null);
    }
    if (this.#chain === undefined) this.#sink.end();
    else this.#chain = this.#chain.then(() => {
      if (!this.#failed) this.#sink.end();
    });
  };

  /** EnvelopeSink: one frame of the body. */
  onEnvelope(flags: number, data: Uint8Array): void {
    if (this.#failed) return;
    if ((flags & ~compressedFlag) !== 0) {
      this.#fail(new ConnectError(`protocol error: unexpected envelope flags 0x${flags.toString(16)} in a request`, Code.InvalidArgument));
      return;
    }
    const compressed = (flags & compressedFlag) !== 0;
    if (compressed && this.#opt.compression === null) {
      this.#fail(new ConnectError("protocol error: received a compressed message, but the request names no message encoding", Code.Internal));
      return;
    }
    this.#deliver(data, compressed);
  }

  #deliver(data: Uint8Array, compressed: boolean): void {
    if (!compressed && this.#chain === undefined) {
      this.#sink.message(data, data.byteLength);
      return;
    }
    const compression = this.#opt.compression!;
    const run = async () => {
      if (this.#failed) return;
      try {
        const bytes = compressed ? await compression.decompress(data, this.#opt.limit) : data;
        if (!this.#failed) this.#sink.message(bytes, data.byteLength);
      } catch (e) {
        this.#fail(e instanceof ConnectError ? e : new ConnectError(String(e), Code.InvalidArgument));
      }
    };
    this.#chain = (this.#chain ?? Promise.resolve()).then(run);
  }

  #fail(error: ConnectError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.detach();
    this.#sink.fail(error);
  }
}

function tooLarge(size: number, limit: number): ConnectError {
  return new ConnectError(`message size ${size} is larger than configured readMaxBytes ${limit}`, Code.ResourceExhausted);
}

function problemError(p: EnvelopeProblem): ConnectError {
  if (p.kind === "too-large") return tooLarge(p.size, p.limit);
  return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
}
