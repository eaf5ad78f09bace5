import type http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { base64Decode, BinaryReader } from "@bufbuild/protobuf/wire";
import { compressions, type Compression } from "../protocol/compression.js";
import { compressedFlag, endStreamFlag, trailerFlag } from "../protocol/envelope.js";
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
  trailers: Headers;
}

/** Response headers that belong to the protocol or the hop, never passed on to a client. */
const protocolHeaders = new Set([
  ":status", "content-type", "content-length", "content-encoding", "accept-encoding", "date", "server",
  "grpc-encoding", "grpc-accept-encoding", "grpc-status", "grpc-message", "grpc-status-details-bin",
  "connect-content-encoding", "connect-accept-encoding", "trailer", "transfer-encoding", "connection", "keep-alive",
]);

/** The metadata of an upstream's response headers (and, for Connect unary, its trailer- headers apart). */
export function responseMetadata(headers: http2.IncomingHttpHeaders, connectUnary: boolean): { header: Headers; trailer: Headers } {
  const header = new Headers();
  const trailer = new Headers();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || protocolHeaders.has(k)) continue;
    const values = Array.isArray(v) ? v : [String(v)];
    if (connectUnary && k.startsWith("trailer-")) for (const x of values) trailer.append(k.slice(8), x);
    else for (const x of values) header.append(k, x);
  }
  return { header, trailer };
}

/**
 * Reads an upstream's response body in the upstream's protocol: messages
 * (decompressed, within `limit`) go to the sink one at a time, and the end
 * (status and trailers) is worked out from wherever the protocol puts it:
 * HTTP/2 trailers (gRPC, or Trailers-Only headers), the 0x80 trailer frame
 * (gRPC-Web), the end-of-stream message (Connect streaming), or the HTTP
 * status and JSON error (Connect unary).
 */
export async function readUpstreamResponse(
  protocol: UpstreamProtocol,
  connectUnary: boolean,
  status: number,
  headers: http2.IncomingHttpHeaders,
  body: AsyncIterable<Buffer>,
  trailers: () => http2.IncomingHttpHeaders,
  limit: number,
  sink: ResponseSink,
): Promise<ResponseEnd> {
  const encoding = headerOf(headers, connectUnary ? "content-encoding" : protocol === "connect" ? "connect-content-encoding" : "grpc-encoding");
  const compression = encoding === undefined || encoding === "identity" ? null : compressions[encoding as Compression["name"]] ?? undefined;
  if (compression === undefined) return { error: new ConnectError(`the upstream compressed its response with "${encoding}", which the gateway cannot read`, Code.Internal), trailers: new Headers() };

  if (connectUnary) return readConnectUnary(status, headers, body, limit, compression, sink);

  // Trailers-Only (gRPC), or an HTTP error from the upstream or a proxy in front of it.
  if (status !== 200) {
    for await (const _ of body) { /* drain */ }
    return { error: httpError(protocol, status, headers), trailers: responseMetadata(headers, false).trailer };
  }
  let ending: { flags: number; data: Uint8Array } | undefined;
  let failure: ConnectError | undefined;
  const pending: Uint8Array[] = [];
  const reader = new EnvelopeReader(limit);
  const frames: EnvelopeSink = {
    onEnvelope(flags, data) {
      if ((flags & (trailerFlag | endStreamFlag)) !== 0 && protocol !== "grpc") ending = { flags, data };
      else if (ending === undefined) pending.push(flags & compressedFlag ? markCompressed(data) : data);
    },
  };
  for await (const chunk of body) {
    const problem = reader.push(chunk, frames);
    if (problem !== undefined) {
      failure = problem.kind === "too-large"
        ? new ConnectError(`the upstream sent a message of ${problem.size} bytes, more than writeMaxBytes ${limit}`, Code.ResourceExhausted)
        : new ConnectError("the upstream's response ended inside a message", Code.Internal);
      break;
    }
    while (pending.length > 0) {
      const next = pending.shift()!;
      const bytes = compressedMarks.has(next) ? await decompress(compression, next, limit) : next;
      const r = sink.message(bytes);
      if (r !== undefined) await r;
    }
  }
  if (failure === undefined && reader.end() !== undefined) failure = new ConnectError("the upstream's response ended inside a message", Code.Internal);
  if (failure !== undefined) return { error: failure, trailers: new Headers() };

  if (protocol === "grpc") {
    const t = trailers();
    // A response without trailers ended early; grpc-status in the headers is Trailers-Only.
    const source = t["grpc-status"] !== undefined ? t : headers;
    if (source["grpc-status"] === undefined) return { error: new ConnectError("the upstream's response ended without a grpc-status", Code.Internal), trailers: new Headers() };
    return { error: grpcStatusError(source), trailers: responseMetadata(t, false).header };
  }
  if (ending === undefined) {
    // gRPC-Web's Trailers-Only: the status in the response headers and no body.
    if (protocol === "grpc-web" && headers["grpc-status"] !== undefined) return { error: grpcStatusError(headers), trailers: new Headers() };
    return { error: new ConnectError("the upstream's response ended without its status", Code.Internal), trailers: new Headers() };
  }
  const end = (ending.flags & compressedFlag) !== 0 && compression !== null ? await decompress(compression, ending.data, limit) : ending.data;
  return protocol === "grpc-web" ? grpcWebEnd(end) : connectEnd(end);
}

async function readConnectUnary(status: number, headers: http2.IncomingHttpHeaders, body: AsyncIterable<Buffer>, limit: number, compression: Compression | null, sink: ResponseSink): Promise<ResponseEnd> {
  const { trailer } = responseMetadata(headers, true);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) return { error: new ConnectError(`the upstream's response is larger than writeMaxBytes ${limit}`, Code.ResourceExhausted), trailers: trailer };
    chunks.push(chunk);
  }
  let bytes: Uint8Array = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (compression !== null) bytes = await compression.decompress(bytes, limit);
  if (status !== 200) return { error: connectJsonError(status, bytes), trailers: trailer };
  const r = sink.message(bytes);
  if (r !== undefined) await r;
  return { error: undefined, trailers: trailer };
}

// Compressed payloads are marked by identity, so the frame loop needs no wrapper objects.
const compressedMarks = new WeakSet<Uint8Array>();
function markCompressed(data: Uint8Array): Uint8Array {
  compressedMarks.add(data);
  return data;
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
  if (t["grpc-status"] === undefined) return { error: new ConnectError("the upstream's gRPC-Web trailers have no grpc-status", Code.Internal), trailers: new Headers() };
  return { error: grpcStatusError(t), trailers: responseMetadata(t, false).header };
}

/** Connect's end-of-stream message: { error?, metadata? }. */
function connectEnd(data: Uint8Array): ResponseEnd {
  let json: { error?: unknown; metadata?: Record<string, string[]> };
  try {
    json = JSON.parse(Buffer.from(data).toString("utf8")) as typeof json;
  } catch {
    return { error: new ConnectError("the upstream's end-of-stream message is not JSON", Code.Internal), trailers: new Headers() };
  }
  const trailers = new Headers();
  for (const [k, values] of Object.entries(json.metadata ?? {})) for (const v of Array.isArray(values) ? values : []) trailers.append(k, String(v));
  return { error: json.error === undefined || json.error === null ? undefined : connectErrorFromJson(json.error, Code.Unknown, undefined), trailers };
}

function connectJsonError(status: number, bytes: Uint8Array): ConnectError {
  const fallback = status === 404 ? Code.Unimplemented : status === 429 || status === 502 || status === 503 || status === 504 ? Code.Unavailable : Code.Unknown;
  try {
    return connectErrorFromJson(JSON.parse(Buffer.from(bytes).toString("utf8")), fallback, undefined);
  } catch {
    return new ConnectError(`the upstream answered HTTP ${status}`, fallback);
  }
}

const codeByName = new Map<string, Code>();
for (const [name, value] of Object.entries(Code)) {
  if (typeof value === "number") codeByName.set(name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), value);
}

function connectErrorFromJson(json: unknown, fallback: Code, metadata: Headers | undefined): ConnectError {
  const o = (typeof json === "object" && json !== null ? json : {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof o.code === "string" ? (codeByName.get(o.code) ?? fallback) : fallback;
  const e = new ConnectError(typeof o.message === "string" ? o.message : "", code, metadata);
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
