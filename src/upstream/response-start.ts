import http2 from "node:http2";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus as connectCodeFromHttp } from "@connectrpc/connect/protocol-connect";
import { codeFromHttpStatus as grpcCodeFromHttp } from "@connectrpc/connect/protocol-grpc";
import { parseRetryPushback } from "./retry-pushback.js";
import { streamFailure } from "./stream-outcome.js";
import { codeFromName, type UpstreamProtocol } from "./upstream-config.js";

/** The most body bytes read to find out how a response without a message ended. */
const maxEndBytes = 64 * 1024;

/** How an attempt's response began. */
export type ResponseStart =
  /** It carries a message (or retries are over): the call is committed to it. */
  | { kind: "committed"; status: number; headers: http2.IncomingHttpHeaders; prefix: Buffer[] }
  /** It ended without a message; `code` is its status (undefined: OK). */
  | { kind: "ended"; status: number; headers: http2.IncomingHttpHeaders; body: Buffer[]; code: Code | undefined; pushback: number | "stop" | undefined }
  /** The stream failed before a response. */
  | { kind: "failed"; error: ConnectError };

/**
 * Waits for the start of a response. With `hold`, the response is held
 * back until it shows a message (the first DATA of gRPC, the first non-end
 * frame of gRPC-Web and Connect streaming, a 200 for Connect unary) or ends
 * without one, so that the caller can still retry it: a call that has
 * received no message may be retried. Without `hold`, it is committed at the
 * response headers. Held bytes are returned as `prefix`/`body`, the rest is
 * left unread in the stream (paused).
 *
 * `trailers` is filled by the caller's own "trailers" listener.
 */
export function awaitResponseStart(stream: http2.ClientHttp2Stream, protocol: UpstreamProtocol, hold: boolean, trailers: () => http2.IncomingHttpHeaders): Promise<ResponseStart> {
  return new Promise<ResponseStart>((resolve) => {
    let headers: http2.IncomingHttpHeaders | undefined;
    let status = 0;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: ResponseStart) => {
      if (settled) return;
      settled = true;
      stream.off("response", onResponse);
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      stream.off("error", onError);
      resolve(r);
    };
    const commit = () => finish({ kind: "committed", status, headers: headers!, prefix: chunks });
    const ended = () => {
      const h = headers ?? {};
      const t = trailers();
      const { code, pushback } = endStatus(protocol, status, h, t, Buffer.concat(chunks));
      finish({ kind: "ended", status, headers: h, body: chunks, code, pushback });
    };
    const onResponse = (h: http2.IncomingHttpHeaders, flags: number) => {
      headers = h;
      status = Number(h[":status"]);
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) return ended();
      if (!hold) return commit();
      if (status === 200 && protocol === "connect" && !isConnectStreaming(h)) return commit();
      stream.on("readable", onReadable);
      onReadable();
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.byteLength;
      }
      if (size === 0) return;
      if (status === 200) {
        if (protocol === "grpc") return commit();
        const flags = chunks[0]![0]!;
        const isEnd = protocol === "grpc-web" ? (flags & 0x80) !== 0 : (flags & 0x02) !== 0;
        if (!isEnd) return commit();
      }
      // An error body or an end frame: read on to the end, within bounds.
      if (size > maxEndBytes) commit();
    };
    const onEnd = () => {
      const failure = streamFailure(stream);
      if (failure !== undefined) finish({ kind: "failed", error: failure });
      else if (headers !== undefined) ended();
    };
    const onClose = () => {
      if (headers !== undefined && stream.readableEnded && streamFailure(stream) === undefined) return ended();
      finish({ kind: "failed", error: streamFailure(stream) ?? noResponse() });
    };
    const onError = (e: unknown) => finish({ kind: "failed", error: streamFailure(stream, e) ?? ConnectError.from(e, Code.Unavailable) });
    stream.on("response", onResponse);
    stream.on("end", onEnd);
    stream.on("close", onClose);
    stream.on("error", onError);
  });
}

function noResponse(): ConnectError {
  return new ConnectError("the upstream closed the stream without a response", Code.Unavailable);
}

function isConnectStreaming(h: http2.IncomingHttpHeaders): boolean {
  return /^application\/connect\+/i.test(String(h["content-type"] ?? ""));
}

/**
 * The status of a response that ended without a message, read from where
 * each protocol puts it: gRPC trailers (or Trailers-Only headers), the
 * gRPC-Web trailer frame, the Connect end-stream message or unary error
 * body, and otherwise the HTTP status as the protocol maps it. Also the
 * `grpc-retry-pushback-ms` the upstream sent with it.
 */
export function endStatus(protocol: UpstreamProtocol, status: number, headers: http2.IncomingHttpHeaders, trailers: http2.IncomingHttpHeaders, body: Buffer): { code: Code | undefined; pushback: number | "stop" | undefined } {
  const pushbackOf = (v: unknown) => parseRetryPushback(typeof v === "string" || Array.isArray(v) ? (v as string | string[]) : undefined);
  if (protocol === "connect") {
    if (status !== 200 || !isConnectStreaming(headers)) {
      const code = status === 200 ? undefined : connectErrorCode(body) ?? connectCodeFromHttp(status);
      return { code, pushback: pushbackOf(headers["trailer-grpc-retry-pushback-ms"]) };
    }
    const end = lastFrame(body, 0x02, headers["connect-content-encoding"]);
    if (end === undefined) return { code: Code.Unknown, pushback: undefined };
    try {
      const json = JSON.parse(end.toString("utf8")) as { error?: { code?: string }; metadata?: Record<string, string[]> };
      const code = json.error === undefined ? undefined : codeFromName(String(json.error.code)) ?? Code.Unknown;
      return { code, pushback: pushbackOf(json.metadata?.["grpc-retry-pushback-ms"]) };
    } catch {
      return { code: Code.Unknown, pushback: undefined };
    }
  }
  let fields: Record<string, unknown> = { ...headers, ...trailers };
  if (protocol === "grpc-web" && headers["grpc-status"] === undefined) {
    const frame = lastFrame(body, 0x80, headers["grpc-encoding"]);
    if (frame !== undefined) fields = { ...fields, ...parseTrailerFrame(frame) };
  }
  const grpcStatus = fields["grpc-status"];
  let code: Code | undefined;
  if (typeof grpcStatus === "string" && /^\d+$/.test(grpcStatus)) code = Number(grpcStatus) === 0 ? undefined : (Number(grpcStatus) as Code);
  else code = status === 200 ? Code.Unknown : grpcCodeFromHttp(status);
  return { code, pushback: pushbackOf(fields["grpc-retry-pushback-ms"]) };
}

function connectErrorCode(body: Buffer): Code | undefined {
  try {
    const json = JSON.parse(body.toString("utf8")) as { code?: string };
    return typeof json.code === "string" ? codeFromName(json.code) : undefined;
  } catch {
    return undefined;
  }
}

/** The payload of the first enveloped frame with `flag`, decompressed. */
function lastFrame(body: Buffer, flag: number, encoding: string | string[] | undefined): Buffer | undefined {
  let at = 0;
  while (at + 5 <= body.byteLength) {
    const flags = body[at]!;
    const len = body.readUInt32BE(at + 1);
    const payload = body.subarray(at + 5, at + 5 + len);
    at += 5 + len;
    if ((flags & flag) === 0) continue;
    if ((flags & 0x01) === 0) return payload;
    try {
      const enc = String(encoding ?? "");
      if (enc === "gzip") return gunzipSync(payload, { maxOutputLength: maxEndBytes });
      if (enc === "br") return brotliDecompressSync(payload, { maxOutputLength: maxEndBytes });
    } catch {
      return undefined;
    }
    return undefined;
  }
  return undefined;
}

/** gRPC-Web trailers: "name: value" lines separated by CRLF. */
function parseTrailerFrame(frame: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of frame.toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}
