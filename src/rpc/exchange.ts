import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";

/**
 * One HTTP request and its response, as the RPC engine sees them, whether
 * they travel on an HTTP/2 stream or an HTTP/1.1 connection. The engine
 * reads the body from `body`, writes frames with `write` (false means wait
 * for `onDrain`), and finishes with `end` (with HTTP trailers on HTTP/2).
 */
export interface Exchange {
  readonly httpMajor: 1 | 2;
  /** Both directions stream at once on HTTP/1.1 (a WebSocket), so bidi is served. */
  readonly fullDuplex?: boolean;
  /** GET, POST, … */
  readonly method: string;
  /** The request target as received: path and query. */
  readonly url: string;
  /** Request headers, lower-case names (HTTP/2 pseudo-headers included). */
  readonly headers: IncomingHttpHeaders;
  /** The request body. */
  readonly body: Readable;
  /** host:port of the request, for ctx.url; undefined when the request names none. */
  readonly authority: string | undefined;
  readonly scheme: "http" | "https";
  /** Address of the client. */
  readonly remoteAddress: string | undefined;
  /** True once the client reset the stream or dropped the connection. */
  readonly clientGone: boolean;
  readonly headSent: boolean;

  /**
   * Sends the response head. `trailers`: HTTP trailers will follow (gRPC);
   * `end`: the head is the whole response (gRPC Trailers-Only).
   * Throws if a header name or value is invalid.
   */
  respond(status: number, headers: OutgoingHttpHeaders, mode: "body" | "trailers" | "end"): void;
  /**
   * Queues bytes; false when the peer is not keeping up (wait for onDrain).
   * `cb` runs once the transport has taken them (or failed to).
   */
  write(chunk: Uint8Array, cb?: (error?: Error | null) => void): boolean;
  /** Bytes written and not yet taken by the transport. */
  readonly bufferedBytes: number;
  /** Calls `cb` once, when queued bytes have been taken or the client is gone. */
  onDrain(cb: () => void): void;
  /** Ends the response, after `last` bytes and with `trailers` if the head announced them. */
  end(last?: Uint8Array, trailers?: OutgoingHttpHeaders): void;
  /**
   * Calls `cb` once if the client goes away before the response has ended.
   * A later call replaces the callback.
   */
  onClientGone(cb: () => void): void;
  /**
   * Once the response has ended: makes the client stop sending a body the
   * handler did not read to its end (see stop-reading in the implementations).
   */
  stopReading(): void;
  /**
   * Abandons the exchange at once, after end() too, dropping what the
   * transport still holds (HTTP/2 RST_STREAM CANCEL, HTTP/1.1 connection
   * reset, WebSocket cut).
   */
  cancel(): void;
  /**
   * The engine is done with the exchange: the response has ended and the
   * handler (or upstream call) behind it has returned. Frees the
   * connection's stream slot (HTTP/2), which is held until then so that
   * resets cannot multiply running handlers. Once; later calls do nothing.
   */
  release(): void;
}
