import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { Base64Decoder, type Base64Problem } from "../protocol/grpc-web/base64-decoder.js";
import { textContentType, type TextMode } from "../protocol/grpc-web/text-mode.js";
import type { Exchange } from "./exchange.js";

/**
 * gRPC-Web text mode as an Exchange around the real one, so that function
 * calls and proxy calls serve it without knowing: the request body is
 * base64-decoded as it arrives (whatever the chunk boundaries and wherever
 * the client padded), and each write of the response is base64-encoded on
 * its own, so a stream still reaches the client message by message (XHR
 * reads text progressively, and decodes every complete 4-character group).
 *
 * Binary calls never pass through here: the dispatcher wraps an exchange
 * only when the call's headers ask for text.
 */
export class TextExchange implements Exchange {
  readonly #inner: Exchange;
  readonly #mode: TextMode;
  #headers: IncomingHttpHeaders | undefined;
  #body: Readable | undefined;
  /** Called once if the request body is not base64; the call answers INVALID_ARGUMENT. */
  onBadBody: (error: ConnectError) => void = () => {};

  constructor(inner: Exchange, mode: TextMode) {
    this.#inner = inner;
    this.#mode = mode;
  }

  get httpMajor(): 1 | 2 {
    return this.#inner.httpMajor;
  }
  get method(): string {
    return this.#inner.method;
  }
  get url(): string {
    return this.#inner.url;
  }
  get authority(): string | undefined {
    return this.#inner.authority;
  }
  get scheme(): "http" | "https" {
    return this.#inner.scheme;
  }
  get remoteAddress(): string | undefined {
    return this.#inner.remoteAddress;
  }
  get clientGone(): boolean {
    return this.#inner.clientGone;
  }
  get headSent(): boolean {
    return this.#inner.headSent;
  }

  /**
   * The request headers without Accept: it asked the gateway for text, and
   * a proxy route must not pass it on (the upstream leg is binary).
   */
  get headers(): IncomingHttpHeaders {
    if (this.#headers === undefined) {
      const { accept: _, ...rest } = this.#inner.headers;
      this.#headers = rest;
    }
    return this.#headers;
  }

  /** The decoded body, made when the call first reads it. */
  get body(): Readable {
    if (!this.#mode.decodeRequest) return this.#inner.body;
    if (this.#body === undefined) {
      const decoded = new Base64Body((problem) => this.onBadBody(badBase64(problem)));
      this.#inner.body.pipe(decoded);
      this.#body = decoded;
    }
    return this.#body;
  }

  respond(status: number, headers: OutgoingHttpHeaders, mode: "body" | "trailers" | "end"): void {
    if (this.#mode.encodeResponse) {
      const type = headers["content-type"];
      if (typeof type === "string" && type.startsWith("application/grpc-web")) headers["content-type"] = textContentType(type);
      delete headers["content-length"];
    }
    this.#inner.respond(status, headers, mode);
  }

  write(chunk: Uint8Array): boolean {
    return this.#inner.write(this.#mode.encodeResponse ? encode(chunk) : chunk);
  }

  onDrain(cb: () => void): void {
    this.#inner.onDrain(cb);
  }

  end(last?: Uint8Array, trailers?: OutgoingHttpHeaders): void {
    this.#inner.end(last !== undefined && this.#mode.encodeResponse ? encode(last) : last, trailers);
  }

  onClientGone(cb: () => void): void {
    this.#inner.onClientGone(cb);
  }

  stopReading(): void {
    this.#inner.stopReading();
  }

  cancel(): void {
    this.#inner.cancel();
  }
}

/** One response piece as base64 text, padded on its own. */
function encode(chunk: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"), "latin1");
}

function badBase64(p: Base64Problem): ConnectError {
  const problem = p.kind === "bad-character"
    ? `character ${p.at + 1} is not in the base64 alphabet (A-Z a-z 0-9 + /, "=" only to pad a group)`
    : `it ends inside a 4-character group (${p.have} character${p.have === 1 ? "" : "s"} left over); pad the last group with "="`;
  return rpcError("SLUICE_GRPC_WEB_TEXT_BAD_BASE64", Code.InvalidArgument, { problem });
}

/** The request body, base64-decoded; a problem is reported once and the rest ignored. */
class Base64Body extends Transform {
  readonly #decoder = new Base64Decoder();
  #failed = false;

  constructor(private readonly onProblem: (p: Base64Problem) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#failed) return done();
    const out = this.#decoder.push(chunk);
    if (Buffer.isBuffer(out)) return done(null, out.byteLength > 0 ? out : undefined);
    this.#fail(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    const problem = this.#failed ? undefined : this.#decoder.end();
    if (problem !== undefined) this.#fail(problem);
    done();
  }

  #fail(p: Base64Problem): void {
    this.#failed = true;
    this.onProblem(p);
  }
}
