import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "../protocol/compression.js";
import { compressedFlag } from "../protocol/envelope.js";
import { EnvelopeReader, type EnvelopeProblem, type EnvelopeSink } from "../protocol/envelope-reader.js";
import type { Exchange } from "./exchange.js";

/** Where the messages of a request body go, in order. */
export interface MessageSink {
  /** One message's bytes, decompressed; `size` is what holding it costs (its decompressed length). */
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

/** An envelope read while an earlier one was still being inflated, or while the sink was full. */
interface Waiting {
  data: Uint8Array;
  compressed: boolean;
}

/**
 * Reads an RPC request body from the exchange and hands its messages to a
 * sink: split into envelopes (or taken whole), size-checked before they are
 * buffered, decompressed with the same limit. Messages reach the sink in the
 * order they were sent.
 *
 * Compressed messages are inflated one at a time, and the body is not read
 * meanwhile: a 1 KiB gzip envelope can become readMaxBytes, so what the wire
 * lets in says nothing about the memory it takes. Envelopes already read
 * wait still compressed, and while the sink is full (`pause`) none is
 * inflated: a call holds about the sink's bound plus one inflated message
 * (uncompressed envelopes of a chunk already read still reach the sink).
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
  /** Envelopes behind a decompression or a full sink, in order; made with the first compressed one. */
  #waiting: Waiting[] | undefined;
  /** A decompression is running. */
  #inflating = false;
  /** The sink asked for a pause (it holds as much as it should). */
  #held = false;
  /** Whether the body is paused, by us, for any of the reasons above. */
  #bodyPaused = false;
  /** The body ended while messages were still waiting: end() follows them. */
  #endWaits = false;
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
    this.#held = true;
    this.#flow();
  }

  resume(): void {
    this.#held = false;
    // Not inline: resume() is called from the consumer's own read, which
    // must not see a message pushed into it before that read has returned.
    if (this.#waiting?.length && !this.#inflating) queueMicrotask(() => this.#pump());
    else this.#flow();
  }

  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    // Nobody will take them: inflating them would only cost memory.
    this.#waiting = undefined;
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
    if (this.#failed || this.#detached) return;
    if (this.#inflating || this.#waiting?.length) this.#endWaits = true;
    else this.#sink.end();
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
    // An uncompressed message costs no more in the sink than it did on the
    // wire: it goes straight through unless it must keep its place in line.
    if (!compressed && !this.#inflating && !this.#waiting?.length) {
      this.#sink.message(data, data.byteLength);
      return;
    }
    if (this.#detached) return;
    (this.#waiting ??= []).push({ data, compressed });
    this.#pump();
  }

  /** Hands waiting messages on, inflating one at a time, until one is in flight or the sink is full. */
  #pump(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    while (waiting.length > 0 && !this.#inflating && !this.#held && !this.#failed && !this.#detached) {
      const next = waiting.shift()!;
      if (next.compressed) this.#inflate(next.data);
      else this.#sink.message(next.data, next.data.byteLength);
    }
    if (this.#failed || this.#detached) return;
    if (this.#endWaits && !this.#inflating && waiting.length === 0) {
      this.#endWaits = false;
      this.#sink.end();
      return;
    }
    this.#flow();
  };

  #inflate(data: Uint8Array): void {
    this.#inflating = true;
    this.#flow();
    this.#opt.compression!.decompress(data, this.#opt.limit).then(
      (bytes) => {
        this.#inflating = false;
        if (this.#failed || this.#detached) return;
        try {
          this.#sink.message(bytes, bytes.byteLength);
          this.#pump();
        } catch (e) {
          this.#fail(e instanceof ConnectError ? e : new ConnectError(String(e), Code.Internal));
        }
      },
      (e: unknown) => {
        this.#inflating = false;
        this.#fail(e instanceof ConnectError ? e : new ConnectError(String(e), Code.InvalidArgument));
      },
    );
  }

  /** Reads the body only while nothing is being inflated, nothing waits, and the sink has room. */
  #flow(): void {
    if (this.#detached || this.#ended) return;
    const stop = this.#held || this.#inflating || (this.#waiting?.length ?? 0) > 0;
    if (stop === this.#bodyPaused) return;
    this.#bodyPaused = stop;
    if (stop) this.#x.body.pause();
    else this.#x.body.resume();
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
