// connectrpc.conformance.v1.ConformanceService as an ordinary Sluice function
// file: the conformance runner's reference client calls it through the
// gateway, and each request says what the response should be (data, headers,
// trailers, delays, an error). Every response echoes what the handler saw of
// the request (headers, deadline, the messages), so the runner can tell
// whether the gateway delivered the call faithfully.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, defineFunction, type HandlerContext } from "sluice";
import {
  BidiStreamRequestSchema,
  ClientStreamRequestSchema,
  ConformancePayload_ConnectGetInfoSchema,
  ConformancePayload_RequestInfoSchema,
  ConformancePayloadSchema,
  ConformanceService,
  HeaderSchema,
  IdempotentUnaryRequestSchema,
  ServerStreamRequestSchema,
  UnaryRequestSchema,
  type ConformancePayload_RequestInfo,
  type Error as ErrorDefinition,
  type Header,
  type StreamResponseDefinition,
  type UnaryResponseDefinition,
} from "../gen/connectrpc/conformance/v1/service_pb.js";

/** What the handler observed of the call: headers, deadline, Connect GET query, and `requests`. */
function requestInfo(ctx: HandlerContext, requests: Any[]): ConformancePayload_RequestInfo {
  const timeoutMs = ctx.timeoutMs();
  const info = create(ConformancePayload_RequestInfoSchema, {
    requestHeaders: toHeaderList(ctx.requestHeader),
    requests,
  });
  if (timeoutMs !== undefined) info.timeoutMs = BigInt(Math.max(0, Math.floor(timeoutMs)));
  if (ctx.requestMethod === "GET") {
    const query = new URL(ctx.url, "http://query.invalid").searchParams;
    const params = new Map<string, string[]>();
    query.forEach((value, name) => params.set(name, [...(params.get(name) ?? []), value]));
    info.connectGetInfo = create(ConformancePayload_ConnectGetInfoSchema, {
      queryParams: [...params].map(([name, value]) => ({ name, value })),
    });
  }
  return info;
}

function toHeaderList(headers: Headers): Header[] {
  const list: Header[] = [];
  headers.forEach((value, name) => list.push(create(HeaderSchema, { name, value: [value] })));
  return list;
}

function appendHeaders(target: Headers, list: Header[] | undefined): void {
  for (const h of list ?? []) for (const v of h.value) target.append(h.name, v);
}

/** The requested error, with the request info appended to its details as the service asks. */
function requestedError(def: ErrorDefinition, info: ConformancePayload_RequestInfo | undefined): ConnectError {
  const error = new ConnectError(def.message ?? "", def.code as number);
  const details = info ? [...def.details, anyPack(ConformancePayload_RequestInfoSchema, info)] : def.details;
  // The details arrive packed as Any; send their bytes on untouched.
  for (const d of details) error.details.push({ type: d.typeUrl.slice(d.typeUrl.lastIndexOf("/") + 1), value: d.value });
  return error;
}

function payload(data: Uint8Array, requestInfo?: ConformancePayload_RequestInfo) {
  return { payload: create(ConformancePayloadSchema, { data, requestInfo }) };
}

/** Unary and client streaming: one response, or the requested error. */
async function respondOnce(def: UnaryResponseDefinition | undefined, requests: Any[], ctx: HandlerContext) {
  appendHeaders(ctx.responseHeader, def?.responseHeaders);
  appendHeaders(ctx.responseTrailer, def?.responseTrailers);
  const info = requestInfo(ctx, requests);
  if (def?.response.case === "error") throw requestedError(def.response.value, info);
  if (def?.responseDelayMs) await sleep(def.responseDelayMs, undefined, { signal: ctx.signal });
  return payload(def?.response.case === "responseData" ? def.response.value : new Uint8Array(), info);
}

/** The tail of a server or bidi stream: the responses not sent yet, then the requested error. */
async function* respondRest(def: StreamResponseDefinition | undefined, sent: number, requests: Any[], ctx: HandlerContext) {
  const data = def?.responseData ?? [];
  for (let i = sent; i < data.length; i++) {
    if (def!.responseDelayMs) await sleep(def!.responseDelayMs, undefined, { signal: ctx.signal });
    yield payload(data[i]!, i === 0 ? requestInfo(ctx, requests) : undefined);
  }
  if (def?.error) throw requestedError(def.error, data.length === 0 ? requestInfo(ctx, requests) : undefined);
}

export default defineFunction({
  service: ConformanceService,
  implementation: {
    unary(req, ctx) {
      return respondOnce(req.responseDefinition, [anyPack(UnaryRequestSchema, req)], ctx);
    },
    // The service asks servers not to implement this one; callers must get UNIMPLEMENTED.
    unimplemented() {
      throw new ConnectError("ConformanceService.Unimplemented is not implemented", Code.Unimplemented);
    },
    idempotentUnary(req, ctx) {
      return respondOnce(req.responseDefinition, [anyPack(IdempotentUnaryRequestSchema, req)], ctx);
    },
    async clientStream(requests, ctx) {
      let def: UnaryResponseDefinition | undefined;
      const seen: Any[] = [];
      for await (const req of requests) {
        if (seen.length === 0) def = req.responseDefinition;
        seen.push(anyPack(ClientStreamRequestSchema, req));
      }
      return respondOnce(def, seen, ctx);
    },
    async *serverStream(req, ctx) {
      const def = req.responseDefinition;
      appendHeaders(ctx.responseHeader, def?.responseHeaders);
      appendHeaders(ctx.responseTrailer, def?.responseTrailers);
      yield* respondRest(def, 0, [anyPack(ServerStreamRequestSchema, req)], ctx);
    },
    async *bidiStream(requests, ctx) {
      let def: StreamResponseDefinition | undefined;
      let fullDuplex = false;
      let first = true;
      let sent = 0;
      // Full duplex: the requests since the last response; half duplex: all of them.
      let pending: Any[] = [];
      for await (const req of requests) {
        if (first) {
          first = false;
          def = req.responseDefinition;
          fullDuplex = req.fullDuplex;
          appendHeaders(ctx.responseHeader, def?.responseHeaders);
          appendHeaders(ctx.responseTrailer, def?.responseTrailers);
        }
        pending.push(anyPack(BidiStreamRequestSchema, req));
        if (!fullDuplex) continue;
        const data = def?.responseData ?? [];
        // No response left for this request: stop reading and end the stream.
        if (sent >= data.length) break;
        if (def!.responseDelayMs) await sleep(def!.responseDelayMs, undefined, { signal: ctx.signal });
        const info = sent === 0 ? requestInfo(ctx, pending) : create(ConformancePayload_RequestInfoSchema, { requests: pending });
        yield payload(data[sent]!, info);
        sent++;
        pending = [];
      }
      yield* respondRest(def, sent, pending, ctx);
    },
  },
});
