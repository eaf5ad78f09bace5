import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { retryBackoffMs } from "./backoff.js";
import { wasNotProcessed } from "./not-processed.js";
import { RequestReplay } from "./request-replay.js";
import { awaitResponseStart, type ResponseStart } from "./response-start.js";
import { streamEndpoint, streamFailure } from "./stream-outcome.js";
import type { RetryPolicy } from "./upstream-config.js";
import type { Upstream } from "./upstream.js";

/** A call to an upstream, as bytes of the upstream's protocol. */
export interface UpstreamRequest {
  /** Request headers with `:path` (see Upstream.openStream for what is added and dropped). */
  headers: http2.OutgoingHttpHeaders;
  /**
   * The request body: enveloped messages as the upstream protocol frames
   * them. It is read no faster than the upstream accepts it, and kept (up to
   * retry.maxReplayBytes) while the call may still be retried.
   */
  body?: AsyncIterable<Uint8Array>;
}

export interface UpstreamCallOptions {
  /** Cancels the call, including a retry's backoff. */
  signal?: AbortSignal;
  /** Absolute deadline of the whole call (all attempts), ms since epoch. */
  deadline?: number;
  /** Overrides of the upstream's retry policy for this call (e.g. a route's own). */
  retry?: Partial<RetryPolicy>;
}

/** The upstream's answer to the attempt the call was committed to. */
export interface UpstreamResponse {
  /** HTTP status. */
  status: number;
  headers: http2.IncomingHttpHeaders;
  /**
   * The response body, bytes as the upstream sent them (those read while
   * deciding whether to retry come first). Ends when the upstream ends the
   * stream; throws a ConnectError (UNAVAILABLE naming the upstream and
   * endpoint for a lost connection) when it fails. Breaking out of it
   * cancels the upstream stream.
   */
  body: AsyncIterable<Buffer>;
  /** HTTP/2 trailers (gRPC's status), complete once `body` has ended. */
  trailers: http2.IncomingHttpHeaders;
  /** The endpoint that answered. */
  endpoint: string;
  /** Attempts made, the first included. */
  attempts: number;
}

/**
 * Calls the upstream with its retry policy (gRPC proposal A6): an attempt
 * that fails with a retryable code, or was never processed by the upstream
 * (failed connect, refused stream, GOAWAY), is tried again on another
 * endpoint when there is one, after the backoff or the upstream's
 * `grpc-retry-pushback-ms`, while attempts, the deadline, the replay bound
 * and the upstream's retry budget allow. The call is committed, and never
 * retried again, as soon as the response shows a message; until then the
 * response headers are held back. Rejects with a ConnectError when no
 * attempt got a response; an attempt that ended with an error status is
 * returned as a response, for the caller's protocol code to read.
 */
export async function callUpstream(upstream: Upstream, req: UpstreamRequest, opts: UpstreamCallOptions = {}): Promise<UpstreamResponse> {
  const policy = opts.retry === undefined ? upstream.config.retry : { ...upstream.config.retry, ...opts.retry };
  const protocol = upstream.config.protocol;
  upstream.counters.calls += 1;
  upstream.budget.recordCall();
  const replay = new RequestReplay(req.body, policy.maxAttempts > 1 ? policy.maxReplayBytes : 0);
  const avoid = new Set<string>();

  for (let attempt = 1; ; attempt++) {
    const mayRetry = async (code: Code, unprocessed: boolean, pushback: number | "stop" | undefined): Promise<boolean> => {
      if (attempt >= policy.maxAttempts || !replay.replayable || replay.sourceError !== undefined) return false;
      if (!unprocessed && !policy.retryableCodes.includes(code)) return false;
      if (pushback === "stop" || opts.signal?.aborted) return false;
      const delay = pushback ?? retryBackoffMs(attempt, policy);
      if (opts.deadline !== undefined && Date.now() + delay >= opts.deadline) return false;
      if (!upstream.budget.tryRetry()) {
        upstream.counters.retriesThrottled += 1;
        return false;
      }
      upstream.counters.retries += 1;
      await sleep(delay, opts.signal);
      return true;
    };

    let stream: http2.ClientHttp2Stream;
    try {
      stream = await upstream.openStream(req.headers, {
        ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
        ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
        avoid,
      });
    } catch (e) {
      const error = ConnectError.from(e);
      if (await mayRetry(error.code, wasNotProcessed(error), undefined)) continue;
      replay.close();
      throw error;
    }
    const endpoint = streamEndpoint(stream)!;
    avoid.add(endpoint);
    const trailers: http2.IncomingHttpHeaders = {};
    stream.on("trailers", (t) => Object.assign(trailers, t));
    void pump(replay, stream);

    const hold = replay.replayable && attempt < policy.maxAttempts;
    const start: ResponseStart = await awaitResponseStart(stream, protocol, hold, () => trailers);
    if (start.kind === "committed") {
      replay.commit();
      return {
        status: start.status,
        headers: start.headers,
        body: responseBody(start.prefix, stream, replay),
        trailers,
        endpoint,
        attempts: attempt,
      };
    }
    if (start.kind === "ended") {
      if (start.code !== undefined && (await mayRetry(start.code, false, start.pushback))) continue;
      replay.close();
      return { status: start.status, headers: start.headers, body: iterate(start.body), trailers, endpoint, attempts: attempt };
    }
    const source = replay.sourceError;
    if (source !== undefined) throw ConnectError.from(source.error, Code.Canceled);
    if (await mayRetry(start.error.code, wasNotProcessed(start.error), undefined)) continue;
    replay.close();
    throw start.error;
  }
}

/** Writes the request into the attempt's stream, waiting for the stream to drain. */
async function pump(replay: RequestReplay, stream: http2.ClientHttp2Stream): Promise<void> {
  try {
    for await (const chunk of replay.reader()) {
      if (stream.destroyed || stream.writableEnded) return;
      if (!stream.write(chunk)) await drained(stream);
    }
    if (!stream.destroyed && !stream.writableEnded) stream.end();
  } catch {
    // The caller's request body failed: the upstream must not take a truncated request as complete.
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

function drained(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

async function* responseBody(prefix: Buffer[], stream: http2.ClientHttp2Stream, replay: RequestReplay): AsyncGenerator<Buffer> {
  try {
    yield* prefix;
    for await (const chunk of stream) yield chunk as Buffer;
    const failure = streamFailure(stream);
    if (failure !== undefined) throw failure;
  } catch (e) {
    const source = replay.sourceError;
    if (source !== undefined) throw ConnectError.from(source.error, Code.Canceled);
    if (e instanceof ConnectError) throw e;
    throw streamFailure(stream, e) ?? ConnectError.from(e, Code.Unavailable);
  } finally {
    replay.close();
    // Done reading, early or not: the upstream must not keep working for nobody (gRPC clients reset here too).
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    // Data already received and left unread holds the stream open (no 'close', so
    // its slot in the pool is never given back) until it is read: discard it.
    stream.resume();
  }
}

async function* iterate(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 && signal === undefined) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal!.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
