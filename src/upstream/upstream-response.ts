import type http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { base64Decode, BinaryReader } from "@bufbuild/protobuf/wire";
import { compressions, type Compression } from "../protocol/compression.js";
import { compressedFlag, endStreamFlag, trailerFlag } from "../protocol/envelope.js";
import type { Metadata } from "../protocol/metadata.js";
import { EnvelopeReader, type EnvelopeSink } from "../protocol/envelope-reader.js";
import type { UpstreamProtocol } from "./upstream-config.js";

/** What a proxy does with the parts of an upstream's response, in order. */
export interface ResponseSink {
  /** One message, decompressed, as protobuf binary; a promise: wait for it (the client is slow) before reading on. */
  message(bytes: Uint8Array): Promise<void> | undefined;
}

/** How an upstream response ended. */
export interface ResponseEnd {
  error: ConnectError | undefined;
  /** The response's metadata trailers (protocol fields removed). */
  trailers: Metadata;
}

/** Metadata as the proxy passes it on: plain objects, lower-case names. */
type Plain = Record<string, string | string[]>;
const none: Plain = Object.freeze({}) as Plain;

/** Response headers that belong to the protocol or the hop, never passed on to a client. */
const protocolHeaders = new Set([
  ":status", "content-type", "content-length", "content-encoding", "accept-encoding", "date", "server",
  "grpc-encoding", "grpc-accept-encoding", "grpc-status", "grpc-message", "grpc-status-details-bin",
  "connect-content-encoding", "connect-accept-encoding", "trailer", "transfer-encoding", "connection", "keep-alive",
]);

/** The metadata of an upstream's response headers (and, for Connect unary, its trailer- headers apart). */
export function responseMetadata(headers: http2.IncomingHttpHeaders, connectUnary: boolean): { header: Plain; trailer: Plain } {
  let header: Plain | undefined;
  let trailer: Plain | undefined;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || protocolHeaders.has(k) || k.charCodeAt(0) === 58 /* ":" */) continue;
    const value = typeof v === "number" ? String(v) : v;
    if (connectUnary && k.startsWith("trailer-")) (trailer ??= {})[k.slice(8)] = value;
    else (header ??= {})[k] = value;
  }
  return { header: header ?? none, trailer: trailer ?? none };
}

/**
 * Whether response headers are a Trailers-Only response (gRPC and gRPC-Web:
 * the status in the headers, no body): their metadata is then the call's
 * trailers, not its headers.
 */
export function isTrailersOnly(protocol: UpstreamProtocol, headers: http2.IncomingHttpHeaders): boolean {
  return protocol !== "connect" && headers["grpc-status"] !== undefined;
}

const grpcType = /^application\/grpc(?:[+;]|$)/i;
const grpcWebType = /^application\/grpc-web(?:[+;]|$)/i;
const connectUnaryType = /^application\/(?:proto|json)(?:;|$)/i;
const connectStreamType = /^application\/connect\+/i;

/** The content types of a 200 response in each upstream protocol (the gateway asks for binary). */
function expectedContentType(protocol: UpstreamProtocol, connectUnary: boolean): RegExp {
  if (protocol === "grpc") return grpcType;
  if (protocol === "grpc-web") return grpcWebType;
  return connectUnary ? connectUnaryType : connectStreamType;
}

/**
 * Decodes an upstream's response body in the upstream's protocol, chunk by
 * chunk as it arrives: messages (decompressed, within `limit`) go to the
 * sink one at a time, in order, and finish() works out the end (status and
 * trailers) from wherever the protocol puts it: HTTP/2 trailers (gRPC, or
 * Trailers-Only headers), the 0x80 trailer frame (gRPC-Web), the
 * end-of-stream message (Connect streaming), or the HTTP status and JSON
 * error (Connect unary).
 *
 * push() returns a promise when the caller must wait before feeding more:
 * the sink is waiting for a slow client, or a message is being inflated.
 */
export class ResponseDecoder implements EnvelopeSink {
  readonly #protocol: UpstreamProtocol;
  readonly #status: number;
  readonly #headers: http2.IncomingHttpHeaders;
  readonly #limit: number;
  /** What the limit is called in errors: the option that sets it. */
  readonly #limitName: string;
  readonly #sink: ResponseSink;
  readonly #reader: EnvelopeReader;
  #compression: Compression | null = null;
  #failure: ConnectError | undefined;
  #ending: { flags: number; data: Uint8Array } | undefined;
  #pending: { data: Uint8Array; compressed: boolean }[] = [];
  /** Connect unary: the body so far. */
  #chunks: Buffer[] | undefined;
  #size = 0;
  /** Messages handed to the sink so far. */
  messages = 0;

  /**
   * The response cannot be passed on (a message over the limit, a broken
   * envelope, an unknown encoding): nothing more of it is needed, and the
   * reader may stop reading and cancel the upstream's stream; finish() tells
   * the error.
   */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  constructor(protocol: UpstreamProtocol, connectUnary: boolean, status: number, headers: http2.IncomingHttpHeaders, limit: number, sink: ResponseSink, limitName = "writeMaxBytes") {
    this.#protocol = protocol;
    this.#status = status;
    this.#headers = headers;
    this.#limit = limit;
    this.#limitName = limitName;
    this.#sink = sink;
    this.#reader = new EnvelopeReader(limit);
    if (connectUnary) this.#chunks = [];
    // A 200 that is not the protocol's (a load balancer's default page, a
    // misrouted request) is not read as frames: its bytes would be taken
    // for lengths. gRPC clients fail such a response as UNKNOWN.
    const type = headerOf(headers, "content-type");
    if (status === 200 && !isTrailersOnly(protocol, headers) && !expectedContentType(protocol, connectUnary).test(type ?? "")) {
      this.#failure = new ConnectError(`the upstream answered HTTP 200 with content-type ${type === undefined ? "(none)" : JSON.stringify(type)}, not a ${protocol === "connect" ? "Connect" : protocol === "grpc" ? "gRPC" : "gRPC-Web"} response`, Code.Unknown);
      return;
    }
    const encoding = headerOf(headers, connectUnary ? "content-encoding" : protocol === "connect" ? "connect-content-encoding" : "grpc-encoding");
    if (encoding !== undefined && encoding !== "identity") {
      const c = compressions[encoding as Compression["name"]] as Compression | undefined;
      if (c === undefined) this.#failure = new ConnectError(`the upstream compressed its response with "${encoding}", which the gateway cannot read`, Code.Internal);
      else this.#compression = c;
    }
  }

  /** Feeds one chunk of the body. */
  push(chunk: Buffer): Promise<void> | undefined {
    if (this.#failure !== undefined) return undefined;
    if (this.#chunks !== undefined) {
      this.#size += chunk.byteLength;
      if (this.#size > this.#limit) this.#failure = new ConnectError(`the upstream's response is larger than ${this.#limitName} ${this.#limit}`, Code.ResourceExhausted);
      else this.#chunks.push(chunk);
      return undefined;
    }
    // A non-200 response is an error whatever its body says (Trailers-Only, or a proxy's page).
    if (this.#status !== 200) return undefined;
    const problem = this.#reader.push(chunk, this);
    if (problem !== undefined) {
      this.#failure = problem.kind === "too-large"
        ? new ConnectError(`the upstream sent a message of ${problem.size} bytes, more than ${this.#limitName} ${this.#limit}`, Code.ResourceExhausted)
        : new ConnectError("the upstream's response ended inside a message", Code.Internal);
      return undefined;
    }
    return this.#deliver();
  }

  /** EnvelopeSink: a frame of the body. */
  onEnvelope(flags: number, data: Uint8Array): void {
    if ((flags & (trailerFlag | endStreamFlag)) !== 0 && this.#protocol !== "grpc") this.#ending = { flags, data };
    else if (this.#ending === undefined) this.#pending.push({ data, compressed: (flags & compressedFlag) !== 0 });
  }

  #deliver(): Promise<void> | undefined {
    while (this.#pending.length > 0 && this.#failure === undefined) {
      const next = this.#pending.shift()!;
      if (next.compressed) {
        return decompress(this.#compression, next.data, this.#limit).then((bytes) => {
          const r = this.#give(bytes);
          return r === undefined ? this.#deliver() : r.then(() => this.#deliver());
        }, (e: unknown) => this.#fail(e));
      }
      const r = this.#give(next.data);
      if (r !== undefined) return r.then(() => this.#deliver());
    }
    return undefined;
  }

  /**
   * One message to the sink. A sink that throws (a message that does not
   * decode as the method's output, for a JSON client) fails the response:
   * the throw would otherwise escape from the stream's "data" event.
   */
  #give(bytes: Uint8Array): Promise<void> | undefined {
    let r: Promise<void> | undefined;
    try {
      r = this.#sink.message(bytes);
    } catch (e) {
      this.#fail(e);
      return undefined;
    }
    this.messages++;
    return r;
  }

  #fail(e: unknown): void {
    this.#failure ??= ConnectError.from(e, Code.Internal);
    this.#pending = [];
  }

  /** The body has ended (with these HTTP/2 trailers): how the response ended. */
  async finish(trailers: http2.IncomingHttpHeaders): Promise<ResponseEnd> {
    if (this.#failure !== undefined) return { error: this.#failure, trailers: none };
    const headers = this.#headers;
    if (this.#chunks !== undefined) return this.#finishConnectUnary();
    if (this.#status !== 200) return { error: httpError(this.#protocol, this.#status, headers), trailers: responseMetadata(headers, false).trailer };
    if (this.#reader.end() !== undefined) return { error: new ConnectError("the upstream's response ended inside a message", Code.Internal), trailers: none };
    if (this.#protocol === "grpc") {
      // A response without trailers ended early; grpc-status in the headers
      // is Trailers-Only, whose metadata is the call's trailers.
      const source = trailers["grpc-status"] !== undefined ? trailers : headers;
      if (source["grpc-status"] === undefined) return { error: new ConnectError("the upstream's response ended without a grpc-status", Code.Internal), trailers: none };
      return { error: grpcStatusError(source), trailers: responseMetadata(source, false).header };
    }
    const ending = this.#ending;
    if (ending === undefined) {
      // gRPC-Web's Trailers-Only: the status and the trailers in the response headers, and no body.
      if (this.#protocol === "grpc-web" && headers["grpc-status"] !== undefined) return { error: grpcStatusError(headers), trailers: responseMetadata(headers, false).header };
      return { error: new ConnectError("the upstream's response ended without its status", Code.Internal), trailers: none };
    }
    const end = (ending.flags & compressedFlag) !== 0 ? await decompress(this.#compression, ending.data, this.#limit) : ending.data;
    return this.#protocol === "grpc-web" ? grpcWebEnd(end) : connectEnd(end);
  }

  async #finishConnectUnary(): Promise<ResponseEnd> {
    const { trailer } = responseMetadata(this.#headers, true);
    const chunks = this.#chunks!;
    let bytes: Uint8Array = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (this.#compression !== null) bytes = await this.#compression.decompress(bytes, this.#limit);
    if (this.#status !== 200) return { error: connectJsonError(this.#status, bytes), trailers: trailer };
    this.messages++;
    const r = this.#sink.message(bytes);
    if (r !== undefined) await r;
    return { error: undefined, trailers: trailer };
  }
}

/** Reads a whole response body given as an async iterable (the retrying path, upstream-call.ts). */
export async function readUpstreamResponse(
  protocol: UpstreamProtocol,
  connectUnary: boolean,
  status: number,
  headers: http2.IncomingHttpHeaders,
  body: AsyncIterable<Buffer>,
  trailers: () => http2.IncomingHttpHeaders,
  limit: number,
  sink: ResponseSink,
  limitName?: string,
): Promise<ResponseEnd> {
  const decoder = new ResponseDecoder(protocol, connectUnary, status, headers, limit, sink, limitName);
  for await (const chunk of body) {
    const wait = decoder.push(chunk);
    if (wait !== undefined) await wait;
    // Leaving the loop cancels the upstream's stream (an endless one would otherwise be read to no end).
    if (decoder.failed) break;
  }
  return decoder.finish(trailers());
}

async function decompress(compression: Compression | null, data: Uint8Array, limit: number): Promise<Uint8Array> {
  if (compression === null) throw new ConnectError("the upstream sent a compressed message but named no encoding", Code.Internal);
  return compression.decompress(data, limit);
}

function headerOf(h: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * gRPC's status from (trailer) headers, with google.rpc.Status details when
 * present. The error carries no metadata: the proxy passes the upstream's
 * headers and trailers on as they were.
 */
function grpcStatusError(h: http2.IncomingHttpHeaders): ConnectError | undefined {
  const raw = headerOf(h, "grpc-status");
  const code = Number(raw);
  if (raw === "0") return undefined;
  const details = headerOf(h, "grpc-status-details-bin");
  if (details !== undefined) {
    try {
      const status = decodeStatus(base64Decode(details));
      if (status.code === 0) return undefined;
      const e = new ConnectError(status.message, status.code as Code);
      e.details = status.details;
      return e;
    } catch {
      // A malformed details header: fall back to grpc-status and grpc-message.
    }
  }
  if (!Number.isInteger(code) || code < 1 || code > 16) return new ConnectError(`the upstream sent an invalid grpc-status: ${raw}`, Code.Internal);
  return new ConnectError(decodeGrpcMessage(headerOf(h, "grpc-message") ?? ""), code as Code);
}

function decodeGrpcMessage(m: string): string {
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

/** google.rpc.Status: code (1), message (2), details (3) as Any { type_url (1), value (2) }. */
function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: { type: string; value: Uint8Array }[] } {
  const r = new BinaryReader(bytes);
  const out = { code: 0, message: "", details: [] as { type: string; value: Uint8Array }[] };
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (no === 1 && wire === 0) out.code = r.int32();
    else if (no === 2 && wire === 2) out.message = r.string();
    else if (no === 3 && wire === 2) {
      const any = new BinaryReader(r.bytes());
      let type = "";
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [n, w] = any.tag();
        if (n === 1 && w === 2) type = any.string();
        else if (n === 2 && w === 2) value = any.bytes();
        else any.skip(w);
      }
      out.details.push({ type: type.slice(type.lastIndexOf("/") + 1), value });
    } else r.skip(wire);
  }
  return out;
}

/** gRPC's mapping of the HTTP status of a response that is not gRPC (PROTOCOL-HTTP2.md); Connect's table for Connect. */
function httpError(protocol: UpstreamProtocol, status: number, headers: http2.IncomingHttpHeaders): ConnectError | undefined {
  if (headers["grpc-status"] !== undefined && protocol !== "connect") {
    return grpcStatusError(headers) ?? new ConnectError(`the upstream answered HTTP ${status}`, Code.Unknown);
  }
  let code: Code;
  switch (status) {
    case 400: code = protocol === "connect" ? Code.InvalidArgument : Code.Internal; break;
    case 401: code = Code.Unauthenticated; break;
    case 403: code = Code.PermissionDenied; break;
    case 404: code = Code.Unimplemented; break;
    case 429: case 502: case 503: case 504: code = Code.Unavailable; break;
    default: code = Code.Unknown;
  }
  return new ConnectError(`the upstream answered HTTP ${status}`, code);
}

/** gRPC-Web's trailer frame: "name: value\r\n" lines. */
function grpcWebEnd(data: Uint8Array): ResponseEnd {
  const t: http2.IncomingHttpHeaders = {};
  for (const line of Buffer.from(data).toString("utf8").split("\r\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    const prev = t[name];
    t[name] = prev === undefined ? value : `${String(prev)}, ${value}`;
  }
  if (t["grpc-status"] === undefined) return { error: new ConnectError("the upstream's gRPC-Web trailers have no grpc-status", Code.Internal), trailers: none };
  return { error: grpcStatusError(t), trailers: responseMetadata(t, false).header };
}

/** Connect's end-of-stream message: { error?, metadata? }. */
function connectEnd(data: Uint8Array): ResponseEnd {
  let json: { error?: unknown; metadata?: Record<string, string[]> };
  try {
    json = JSON.parse(Buffer.from(data).toString("utf8")) as typeof json;
  } catch {
    return { error: new ConnectError("the upstream's end-of-stream message is not JSON", Code.Internal), trailers: none };
  }
  const trailers: Plain = {};
  for (const [k, values] of Object.entries(json.metadata ?? {})) {
    if (Array.isArray(values)) trailers[k.toLowerCase()] = values.map(String);
  }
  return { error: json.error === undefined || json.error === null ? undefined : connectErrorFromJson(json.error, Code.Unknown), trailers };
}

function connectJsonError(status: number, bytes: Uint8Array): ConnectError {
  const fallback = status === 404 ? Code.Unimplemented : status === 429 || status === 502 || status === 503 || status === 504 ? Code.Unavailable : Code.Unknown;
  try {
    return connectErrorFromJson(JSON.parse(Buffer.from(bytes).toString("utf8")), fallback);
  } catch {
    return new ConnectError(`the upstream answered HTTP ${status}`, fallback);
  }
}

const codeByName = new Map<string, Code>();
for (const [name, value] of Object.entries(Code)) {
  if (typeof value === "number") codeByName.set(name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), value);
}

function connectErrorFromJson(json: unknown, fallback: Code): ConnectError {
  const o = (typeof json === "object" && json !== null ? json : {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof o.code === "string" ? (codeByName.get(o.code) ?? fallback) : fallback;
  const e = new ConnectError(typeof o.message === "string" ? o.message : "", code);
  if (Array.isArray(o.details)) {
    for (const d of o.details as { type?: unknown; value?: unknown; debug?: unknown }[]) {
      if (typeof d?.type !== "string" || typeof d.value !== "string") continue;
      try {
        e.details.push({ type: d.type, value: base64Decode(d.value), ...(d.debug !== undefined ? { debug: d.debug as never } : {}) });
      } catch {
        // an undecodable detail is dropped, as Connect clients do
      }
    }
  }
  return e;
}
