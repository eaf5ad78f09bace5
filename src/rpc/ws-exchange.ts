import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import { Code } from "@connectrpc/connect";
import type { WebSocketConnection } from "../host/websocket-connection.js";
import { encodeTrailerFrame } from "../protocol/grpc-web/grpc-web-wire.js";
import type { Exchange } from "./exchange.js";

/** Request body bytes buffered before the socket stops being read. */
const bodyHighWaterBytes = 64 * 1024;

/** Response headers that belong to the HTTP hop or to CORS, not to the call. */
const notInHeaderFrame = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "vary"]);

/**
 * One gRPC-Web call carried by a WebSocket (sub-protocol grpc-websockets),
 * as the RPC engine sees it: the same Exchange as an HTTP request, so the
 * call runs the same FunctionCall (or ProxyCall) with every limit that
 * applies to any call. On the wire:
 *
 * - the response head goes as a gRPC-Web header frame (flag 0x80, the
 *   headers as "name: value\r\n" lines), which clients read as the headers
 *   because it comes first;
 * - each response frame the call writes is one binary message;
 * - the end is the trailer frame, then a close frame: 1000, or 1001 when the
 *   gateway is shutting down, or 1002 after the client broke the protocol.
 *
 * Flow control both ways: the body stops reading the socket while the call
 * does not take its bytes, and write() returns false while the socket has
 * more than sendHighWaterBytes queued, which pauses a streaming handler.
 */
export class WsExchange implements Exchange {
  readonly httpMajor = 1;
  readonly fullDuplex = true;
  readonly method = "POST";
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: WebSocketBody;
  readonly scheme: "http" | "https";
  readonly remoteAddress: string | undefined;
  /** The close code sent after the response; set to 1002 before failing a call for a protocol error. */
  closeCode = 1000;
  readonly #conn: WebSocketConnection;
  readonly #draining: AbortSignal;
  #headSent = false;
  #ended = false;
  #gone = false;
  #onGone: (() => void) | undefined;

  constructor(conn: WebSocketConnection, req: { url: string; headers: IncomingHttpHeaders; scheme: "http" | "https"; remoteAddress: string | undefined; draining: AbortSignal }) {
    this.#conn = conn;
    this.url = req.url;
    this.headers = req.headers;
    this.scheme = req.scheme;
    this.remoteAddress = req.remoteAddress;
    this.#draining = req.draining;
    this.body = new WebSocketBody(conn);
  }

  get authority(): string | undefined {
    return this.headers.host;
  }

  get clientGone(): boolean {
    return this.#gone;
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  /** True once the response has ended (the connection is closing). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The response head as a header frame. A status other than 200 (the
   * engine's plain HTTP answers) becomes a headers-only response with the
   * gRPC status HTTP maps to, which gRPC-Web clients read as the call's end.
   */
  respond(status: number, headers: OutgoingHttpHeaders, mode: "body" | "trailers" | "end"): void {
    const block: OutgoingHttpHeaders = {};
    for (const name in headers) {
      if (notInHeaderFrame.has(name) || name.startsWith("access-control-")) continue;
      const value = headers[name];
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) checkHeaderValue(name, v);
      block[name] = value;
    }
    // Only now: a header that failed its check sent nothing, and the call
    // can still answer with an error, as over HTTP.
    this.#headSent = true;
    if (status !== 200) {
      block["grpc-status"] = String(codeForHttpStatus(status));
      block["grpc-message"] = `HTTP ${status}`;
      mode = "end";
    }
    this.#conn.send(encodeTrailerFrame(block));
    if (mode === "end") this.end();
  }

  write(chunk: Uint8Array, cb?: (error?: Error | null) => void): boolean {
    return this.#conn.send(chunk, cb);
  }

  get bufferedBytes(): number {
    return this.#conn.bufferedAmount;
  }

  onDrain(cb: () => void): void {
    this.#conn.onDrain(cb);
  }

  /** The last frame (the trailer frame), then the close handshake. */
  end(last?: Uint8Array): void {
    if (this.#ended) return;
    this.#ended = true;
    if (last !== undefined) this.#conn.send(last);
    this.#conn.close(this.#draining.aborted && this.closeCode === 1000 ? 1001 : this.closeCode);
  }

  onClientGone(cb: () => void): void {
    this.#onGone = cb;
  }

  /** The connection closed (the client's close frame, or the socket ended) before the response did. */
  clientWentAway(): void {
    if (this.#ended || this.#gone) return;
    this.#gone = true;
    this.body.destroy();
    const cb = this.#onGone;
    this.#onGone = undefined;
    cb?.();
  }

  /** Nothing to do: the connection closes once the response has ended. */
  stopReading(): void {}

  /** Nothing is held per call: the connection is the call's own. */
  release(): void {}

  cancel(): void {
    // After the end, the close frame already waits behind what the client
    // has not read (an outbound queue giving up on it): only cutting the
    // socket frees the connection now.
    if (this.#ended) return this.#conn.destroy();
    this.#ended = true;
    this.#conn.close(1011, "the response could not be written");
  }
}

/** The request body: the bytes of the client's data messages, read no faster than the call takes them. */
export class WebSocketBody extends Readable {
  constructor(private readonly conn: WebSocketConnection) {
    super({ highWaterMark: bodyHighWaterBytes });
  }

  override _read(): void {
    this.conn.resume();
  }

  /** Bytes that arrived; past the high-water mark the socket stops being read. */
  feed(bytes: Uint8Array): void {
    if (!this.push(bytes)) this.conn.pause();
  }

  /** The client ended its stream. */
  finish(): void {
    this.push(null);
  }
}

/** The checks Node applies to an HTTP header value, so a bad one fails the same way on every transport. */
function checkHeaderValue(name: string, value: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(value)) throw new TypeError(`Invalid character in header content ["${name}"]`);
}

/** gRPC's mapping of an HTTP status to a code (doc/http-grpc-status-mapping.md). */
function codeForHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}
