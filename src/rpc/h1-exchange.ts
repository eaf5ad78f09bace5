import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Exchange } from "./exchange.js";

/** The longest a response waits for the rest of a request body it will not read (see end()). */
const lingerMs = 2_000;

/** An RPC on an HTTP/1.1 request (gRPC-Web and Connect from browsers and curl). */
export class H1Exchange implements Exchange {
  readonly httpMajor = 1;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  #ended = false;
  #onGone: (() => void) | undefined;

  constructor(
    readonly body: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.method = body.method ?? "GET";
    this.url = body.url ?? "/";
    this.headers = body.headers;
  }

  get authority(): string | undefined {
    return this.headers.host;
  }

  get scheme(): "http" | "https" {
    return (this.body.socket as TLSSocket).encrypted ? "https" : "http";
  }

  get remoteAddress(): string | undefined {
    return this.body.socket.remoteAddress;
  }

  get clientGone(): boolean {
    return this.res.destroyed && !this.#ended;
  }

  get headSent(): boolean {
    return this.res.headersSent;
  }

  respond(status: number, headers: OutgoingHttpHeaders, mode: "body" | "trailers" | "end"): void {
    this.res.writeHead(status, headers);
    if (mode === "end") this.end();
  }

  write(chunk: Uint8Array, cb?: (error?: Error | null) => void): boolean {
    return this.res.write(chunk, cb);
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  onDrain(cb: () => void): void {
    const res = this.res;
    if (res.destroyed) return cb();
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      cb();
    };
    res.on("drain", done);
    res.on("close", done);
  }

  end(last?: Uint8Array, trailers?: OutgoingHttpHeaders): void {
    this.#ended = true;
    if (trailers) this.res.addTrailers(trailers);
    const req = this.body;
    if (this.res.shouldKeepAlive || req.complete || req.destroyed) {
      this.res.end(last);
      return;
    }
    // The connection closes after this response (the client asked for it)
    // while the client is still sending its body: a refusal or an error
    // mid-upload. Closing now would make the client's next write fail
    // (EPIPE) and hide the answer; so, like nginx's lingering close, the rest
    // of the body is read and dropped for a moment before the response ends.
    if (last !== undefined && last.byteLength > 0) this.res.write(last);
    const res = this.res;
    const finish = () => {
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    const timer = setTimeout(finish, lingerMs);
    timer.unref();
    req.once("end", finish);
    req.once("close", finish);
    req.removeAllListeners("data");
    req.resume();
  }

  onClientGone(cb: () => void): void {
    if (this.#onGone === undefined) {
      this.res.once("close", () => {
        if (!this.#ended) this.#onGone?.();
      });
    }
    this.#onGone = cb;
  }

  /** One request per connection at a time: there is no slot to free. */
  release(): void {}

  /**
   * The rest of the body is read and dropped, so that the keep-alive
   * connection can carry the next request; unread bytes would stall it.
   */
  stopReading(): void {
    const req = this.body;
    // Not req.complete: a body fully received but paused still holds the
    // connection until it is read out.
    if (req.readableEnded) return;
    // (Removing 'readable' listeners here would, a tick later, turn
    // flowing off again: the body would stop being read.)
    req.removeAllListeners("data");
    req.resume();
  }

  cancel(): void {
    this.#ended = true;
    const socket = this.body.socket;
    // A TCP reset, not a FIN: a FIN waits behind the bytes a client that is
    // not reading has left in the socket, so it would never learn, and the
    // kernel would hold them. Over TLS the reset cannot reach the TCP handle
    // under the TLS layer: the socket is closed, which still frees the gateway's part.
    if ((socket as TLSSocket).encrypted) socket.destroy();
    else socket.resetAndDestroy();
  }
}
