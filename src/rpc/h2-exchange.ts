import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import http2 from "node:http2";
import type { H2SessionGuard } from "../limits/h2-session-guard.js";
import type { Exchange } from "./exchange.js";
import { forgetListeners } from "./forget-listeners.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

// Shared option objects: respond() only reads them. No Date header: RPC
// clients do not read it, and it is one more field to encode per response.
const withBody = { sendDate: false } as http2.ServerStreamResponseOptions;
const withTrailers = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const headOnly = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;

/**
 * An RPC on one HTTP/2 stream (h2c or h2 over TLS), served from the stream
 * API. It holds the stream's slot on its connection (H2SessionGuard) until
 * both the stream has closed and the engine has released it.
 */
export class H2Exchange implements Exchange {
  readonly httpMajor = 2;
  readonly method: string;
  readonly url: string;
  readonly #guard: H2SessionGuard | undefined;
  #ended = false;
  #trailersPending = false;
  #onGone: (() => void) | undefined;
  /** The stream (until it closes) and the engine (until release()). */
  #holds = 2;
  #released = false;

  constructor(
    readonly body: http2.ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    readonly scheme: "http" | "https",
    guard?: H2SessionGuard,
  ) {
    this.method = (headers[":method"] as string | undefined) ?? "GET";
    this.url = (headers[":path"] as string | undefined) ?? "/";
    this.#guard = guard;
    body.once("close", this.#onClose);
  }

  readonly #onClose = (): void => {
    if (!this.#ended) {
      // Reset by the client (or its connection dropped) before the response ended.
      this.#guard?.onReset();
      this.#onGone?.();
    }
    this.#drop();
    forgetListeners(this.body);
  };

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#drop();
  }

  #drop(): void {
    if (--this.#holds === 0) this.#guard?.releaseSlot();
  }

  get authority(): string | undefined {
    return (this.headers[":authority"] as string | undefined) ?? this.headers.host;
  }

  get remoteAddress(): string | undefined {
    return this.body.session?.socket?.remoteAddress;
  }

  get clientGone(): boolean {
    return this.body.destroyed && !this.#ended;
  }

  get headSent(): boolean {
    return this.body.headersSent;
  }

  respond(status: number, headers: OutgoingHttpHeaders, mode: "body" | "trailers" | "end"): void {
    headers[":status"] = status;
    if (mode === "end") this.#ended = true;
    this.body.respond(headers, mode === "trailers" ? withTrailers : mode === "end" ? headOnly : withBody);
  }

  write(chunk: Uint8Array, cb?: (error?: Error | null) => void): boolean {
    return this.body.write(chunk, cb);
  }

  get bufferedBytes(): number {
    return this.body.writableLength;
  }

  onDrain(cb: () => void): void {
    const stream = this.body;
    if (stream.destroyed) return cb();
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      cb();
    };
    stream.on("drain", done);
    stream.on("close", done);
  }

  end(last?: Uint8Array, trailers?: OutgoingHttpHeaders): void {
    this.#ended = true;
    const stream = this.body;
    if (trailers) {
      this.#trailersPending = true;
      // 'wantTrailers' fires once per stream: a plain listener needs no once-wrapper.
      stream.on("wantTrailers", () => {
        this.#trailersPending = false;
        sendTrailers(stream, trailers);
      });
    }
    if (!stream.destroyed) stream.end(last);
  }

  onClientGone(cb: () => void): void {
    this.#onGone = cb;
  }

  /**
   * RST_STREAM with NO_ERROR tells the client to stop sending without
   * failing the call (RFC 9113 §8.1); otherwise the stream stays half-open
   * and a client blocked on flow control waits forever. It must not
   * overtake the response: after the trailers, or once the body is flushed.
   */
  stopReading(): void {
    const stream = this.body;
    const close = () => {
      if (!stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
    };
    if (this.#trailersPending) stream.once("wantTrailers", () => setImmediate(close));
    else if (stream.writableFinished) close();
    else stream.once("finish", close);
  }

  cancel(): void {
    this.#ended = true;
    if (!this.body.destroyed) this.body.close(NGHTTP2_CANCEL);
  }
}

/** Trailers a handler set may be invalid; the stream must still end. */
function sendTrailers(stream: http2.ServerHttp2Stream, trailers: OutgoingHttpHeaders): void {
  if (stream.destroyed) return;
  try {
    stream.sendTrailers(trailers);
  } catch {
    try {
      stream.sendTrailers({ "grpc-status": "13", "grpc-message": "the response trailers are not valid HTTP/2 header fields" });
    } catch {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  }
}
