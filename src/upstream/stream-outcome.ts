import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { EndpointPool } from "./endpoint-pool.js";
import { notProcessed } from "./not-processed.js";
import { h2CodeName, type UpstreamConnection } from "./upstream-connection.js";
import type { UpstreamProtocol } from "./upstream-config.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY, NGHTTP2_HTTP_1_1_REQUIRED } = http2.constants;

interface StreamInfo {
  upstream: string;
  protocol: UpstreamProtocol;
  pool: EndpointPool;
  conn: UpstreamConnection;
  /** Set when we ended the stream: the caller's cancellation or deadline. */
  cancelled: ConnectError | undefined;
  reported: boolean;
}

const streams = new WeakMap<http2.ClientHttp2Stream, StreamInfo>();

export interface TrackOptions {
  signal?: AbortSignal;
  deadline?: number;
}

/**
 * Watches a stream opened on a pooled connection: ends it (RST_STREAM
 * CANCEL, as gRPC clients do) when the caller's signal fires or its deadline
 * passes, and tells the endpoint's health what the upstream answered.
 * Health sees what HTTP/2 shows without decoding the body: the HTTP status,
 * grpc-status in headers (Trailers-Only) and in gRPC trailers, refused
 * streams and lost connections.
 */
export function trackStream(stream: http2.ClientHttp2Stream, upstream: string, protocol: UpstreamProtocol, pool: EndpointPool, conn: UpstreamConnection, opts: TrackOptions): void {
  const info: StreamInfo = { upstream, protocol, pool, conn, cancelled: undefined, reported: false };
  streams.set(stream, info);
  // Failures are read from "close" and the rstCode (streamFailure); an
  // "error" nobody else listens to must not take the gateway down.
  stream.on("error", () => {});
  const cancel = (reason: ConnectError) => {
    if (stream.closed || info.cancelled !== undefined) return;
    info.cancelled = reason;
    stream.close(NGHTTP2_CANCEL);
    // A call that ran out of time may have been stuck on a dead connection: check it
    // now, as keepalive stops sending PINGs when the last stream ends.
    if (reason.code === Code.DeadlineExceeded) conn.probe();
  };
  const onAbort = () => cancel(ConnectError.from(opts.signal!.reason, Code.Canceled));
  let timer: NodeJS.Timeout | undefined;
  if (opts.signal !== undefined) {
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener("abort", onAbort, { once: true });
  }
  if (opts.deadline !== undefined) {
    timer = setTimeout(() => {
      cancel(rpcError("SLUICE_UPSTREAM_DEADLINE_EXCEEDED", Code.DeadlineExceeded, { upstream, endpoint: pool.endpoint.address, stage: "waiting for the upstream's answer" }));
    }, Math.max(0, opts.deadline - Date.now()));
  }
  const report = (ok: boolean) => {
    if (info.reported) return;
    info.reported = true;
    pool.reportOutcome(ok);
  };
  // "response", "trailers" and "close" come at most once: plain listeners, no once-wrappers.
  stream.on("response", (headers) => {
    const status = Number(headers[":status"]);
    const grpcStatus = headers["grpc-status"];
    if (grpcStatus !== undefined) report(grpcStatus !== String(Code.Unavailable));
    else if (status !== 200) report(!unavailableHttpStatus(status));
    else if (protocol !== "grpc") report(true);
  });
  if (protocol === "grpc") {
    stream.on("trailers", (trailers) => report(trailers["grpc-status"] !== String(Code.Unavailable)));
  }
  stream.on("close", () => {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    if (info.reported || info.cancelled !== undefined) return;
    // A connection lost with its streams counts once, against the connection.
    if (conn.lossReason() !== undefined) return;
    if (stream.rstCode === NGHTTP2_REFUSED_STREAM) report(false);
    else if (stream.rstCode === NGHTTP2_NO_ERROR) report(true);
  });
}

/**
 * What a stream that ended without a complete answer failed with, named
 * for the upstream and endpoint: the caller's own cancellation or deadline,
 * a lost connection (UNAVAILABLE), a stream the upstream did not process
 * (UNAVAILABLE, safe to retry), or the upstream's RST_STREAM code mapped as
 * gRPC maps HTTP/2 errors. Undefined when the stream has not failed.
 *
 * Node ends the readable side of a reset stream like a complete one, so a
 * reader must ask this at the end of the body too, not only on errors.
 */
export function streamFailure(stream: http2.ClientHttp2Stream, error?: unknown): ConnectError | undefined {
  const info = streams.get(stream);
  if (info === undefined) return error === undefined ? undefined : ConnectError.from(error);
  if (info.cancelled !== undefined) return info.cancelled;
  const endpoint = info.pool.endpoint.address;
  const last = info.conn.goawayLastStreamId;
  if (last !== undefined && stream.id !== undefined && stream.id > last) {
    return notProcessed(rpcError("SLUICE_UPSTREAM_STREAM_REFUSED", Code.Unavailable, { upstream: info.upstream, endpoint, reason: "the stream was above the last stream id of the upstream's GOAWAY" }));
  }
  const rst = stream.rstCode;
  if (rst === NGHTTP2_REFUSED_STREAM) {
    return notProcessed(rpcError("SLUICE_UPSTREAM_STREAM_REFUSED", Code.Unavailable, { upstream: info.upstream, endpoint, reason: "RST_STREAM REFUSED_STREAM" }));
  }
  // Node closes the streams of a dead connection with CANCEL: that is a lost connection, not a cancellation.
  if (rst === NGHTTP2_CANCEL || error !== undefined) {
    const lost = info.conn.lossReason();
    if (lost !== undefined) return new ConnectError(lost.rawMessage, lost.code);
  }
  if (rst !== undefined && rst !== NGHTTP2_NO_ERROR) {
    return rpcError("SLUICE_UPSTREAM_STREAM_RESET", codeOfResetStream(rst), { upstream: info.upstream, endpoint, code: h2CodeName(rst) });
  }
  if (error !== undefined) {
    return rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, { upstream: info.upstream, endpoint, reason: error instanceof Error ? error.message : String(error) });
  }
  return undefined;
}

/** The endpoint a stream was opened to (for logs and errors). */
export function streamEndpoint(stream: http2.ClientHttp2Stream): string | undefined {
  return streams.get(stream)?.pool.endpoint.address;
}

/** gRPC's mapping of RST_STREAM codes to status codes (PROTOCOL-HTTP2.md). */
function codeOfResetStream(rst: number): Code {
  switch (rst) {
    case NGHTTP2_CANCEL:
      return Code.Canceled;
    case NGHTTP2_REFUSED_STREAM:
      return Code.Unavailable;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.ResourceExhausted;
    case NGHTTP2_INADEQUATE_SECURITY:
    case NGHTTP2_HTTP_1_1_REQUIRED:
      return Code.PermissionDenied;
    default:
      return Code.Internal;
  }
}

/** HTTP statuses that gRPC maps to UNAVAILABLE: the upstream (or a proxy in front of it) is not serving. */
export function unavailableHttpStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}
