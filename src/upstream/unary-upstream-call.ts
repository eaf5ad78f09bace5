import type http2 from "node:http2";
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport, type UnaryResponse } from "@connectrpc/connect";
import type { Context } from "@opentelemetry/api";
import { checkResponse } from "../functions/check-response.js";
import { EncodeError } from "../protocol/encode-error.js";
import { envelopeHeaderBytes, writeEnvelopeHeader } from "../protocol/envelope.js";
import { forEachMetadata, type Metadata } from "../protocol/metadata.js";
import { decodeBinary } from "../protocol/protobuf/binary-decoder.js";
import { encodeBinary } from "../protocol/protobuf/binary-encoder.js";
import { observeUpstreamCall } from "./observe-upstream-call.js";
import { callUpstream } from "./upstream-call.js";
import { isTrailersOnly, readUpstreamResponse, responseMetadata } from "./upstream-response.js";
import type { Upstream } from "./upstream.js";

/** The headers a call may set (CallOptions.headers). */
type HeadersInit = Parameters<Transport["unary"]>[3] & {};

/** One unary call of a ctx.upstream client, as its transport was given it. */
export interface UnaryUpstreamCall<I extends DescMessage, O extends DescMessage> {
  method: DescMethodUnary<I, O>;
  input: unknown;
  /** The call's own headers (CallOptions.headers). */
  header: HeadersInit | undefined;
  /** Headers the calling function's call passes on; a header of the call's own wins. */
  propagated: readonly (readonly [string, string])[];
  signal: AbortSignal | undefined;
  /** Absolute deadline, ms since epoch: the calling call's or the call's own, whichever is sooner. */
  deadline: number | undefined;
  /** The calling call's span, when it is traced: the call gets a client span under it. */
  traceContext: Context | undefined;
}

/** What each protocol's unary request looks like on the wire. */
const requestShapes = {
  grpc: { contentType: "application/grpc+proto", acceptEncoding: "grpc-accept-encoding", enveloped: true },
  "grpc-web": { contentType: "application/grpc-web+proto", acceptEncoding: "grpc-accept-encoding", enveloped: true },
  connect: { contentType: "application/proto", acceptEncoding: "accept-encoding", enveloped: false },
} as const;

/**
 * A unary call of a ctx.upstream client, sent on the upstream's pool
 * without Connect-ES's client pipeline (async iterables, interceptors, a
 * Headers object per step): the request is encoded and framed once, sent
 * with the upstream's retry policy (callUpstream), and the answer is read
 * with the proxy's decoder for the upstream's protocol. What a caller sees
 * is what Connect-ES's transports give: the response message with its
 * header and trailer, or a ConnectError with the upstream's code, message,
 * details and metadata (header and trailer together).
 */
export async function callUnaryUpstream<I extends DescMessage, O extends DescMessage>(upstream: Upstream, call: UnaryUpstreamCall<I, O>): Promise<UnaryResponse<I, O>> {
  const { method } = call;
  const protocol = upstream.config.protocol;
  const shape = requestShapes[protocol];
  const headers: http2.OutgoingHttpHeaders = { ":path": `/${method.parent.typeName}/${method.name}` };
  if (call.header !== undefined) forEachHeader(call.header, (name, value) => (headers[name] = value));
  for (const [name, value] of call.propagated) headers[name] ??= value;
  headers["content-type"] = shape.contentType;
  headers[shape.acceptEncoding] = "gzip, br";
  if (protocol === "grpc-web") headers["x-grpc-web"] = "1";
  if (protocol === "connect") headers["connect-protocol-version"] = "1";

  const obs = observeUpstreamCall(upstream, method, call.traceContext);
  obs.span?.inject(headers);
  try {
    const body = encodeRequest(upstream, method.input, call.input, shape.enveloped);
    const res = await callUpstream(upstream, { headers, body: once(body) }, {
      ...(call.signal !== undefined ? { signal: call.signal } : {}),
      ...(call.deadline !== undefined ? { deadline: call.deadline } : {}),
    });
    let message: Uint8Array | undefined;
    const end = await readUpstreamResponse(protocol, protocol === "connect", res.status, res.headers, res.body, () => res.trailers, upstream.config.readMaxBytes, {
      message(bytes) {
        // Thrown here, the error stops the reading and cancels the upstream's stream:
        // an upstream streaming its answer to a unary call is not read to its end.
        if (message !== undefined) throw cardinalityError("more than one message");
        message = bytes;
        return undefined;
      },
    }, "readMaxBytes");
    // Trailers-Only: the headers' metadata is the call's trailers (end.trailers has it).
    const header = isTrailersOnly(protocol, res.headers) ? {} : responseMetadata(res.headers, protocol === "connect").header;
    if (end.error !== undefined) throw withMetadata(end.error, header, end.trailers);
    if (message === undefined) throw cardinalityError("no message");
    let output: MessageShape<O>;
    try {
      output = decodeBinary(method.output, message);
    } catch (e) {
      throw new ConnectError(`the upstream's ${method.output.typeName} does not parse: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
    }
    obs.end(0);
    return { stream: false, service: method.parent, method, header: toHeaders(header), message: output, trailer: toHeaders(end.trailers) };
  } catch (e) {
    const error = ConnectError.from(e);
    obs.end(error.code);
    throw error;
  }
}

/** gRPC calls a unary answer without exactly one message a cardinality violation: UNIMPLEMENTED. */
function cardinalityError(what: string): ConnectError {
  return new ConnectError(`protocol error: the upstream answered a unary method with ${what}`, Code.Unimplemented);
}

/** The request's body: the message, enveloped for gRPC and gRPC-Web, bare for Connect unary. */
function encodeRequest(upstream: Upstream, schema: DescMessage, input: unknown, enveloped: boolean): Buffer {
  let bytes: Buffer;
  try {
    bytes = encodeBinary(schema, input, enveloped ? envelopeHeaderBytes : 0);
  } catch (e) {
    if (!(e instanceof EncodeError)) throw e;
    const worded = checkResponse(schema, input) ?? e;
    throw new ConnectError(`the request to upstream ${upstream.name} is not a valid ${schema.typeName}: ${worded.path === "" ? "" : `${worded.path}: `}${worded.problem}`, Code.Internal);
  }
  if (enveloped) writeEnvelopeHeader(bytes, 0);
  return bytes;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Every name (lower-cased) and value of a HeadersInit, without building a Headers. */
function forEachHeader(init: HeadersInit, fn: (name: string, value: string) => void): void {
  if (init instanceof Headers) init.forEach((value, name) => fn(name, value));
  else if (Array.isArray(init)) for (const [name, value] of init) fn(name!.toLowerCase(), value!);
  else for (const name of Object.keys(init)) fn(name.toLowerCase(), (init as Record<string, string>)[name]!);
}

function toHeaders(...parts: Metadata[]): Headers {
  const h = new Headers();
  for (const part of parts) forEachMetadata(part, (value, name) => h.append(name, value));
  return h;
}

/** The upstream's error as the caller sees it: its metadata is the response's header and trailer together. */
function withMetadata(error: ConnectError, header: Metadata, trailer: Metadata): ConnectError {
  const e = new ConnectError(error.rawMessage, error.code, toHeaders(header, trailer), undefined, error.cause);
  e.details = error.details;
  return e;
}
