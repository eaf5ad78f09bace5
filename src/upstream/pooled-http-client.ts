import type http2 from "node:http2";
import type { UniversalClientFn } from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { callUpstream } from "./upstream-call.js";
import type { Upstream } from "./upstream.js";

/**
 * Connect-ES's HTTP client interface over the upstream's pool, so that its
 * gRPC, gRPC-Web and Connect transports send their calls on pooled,
 * kept-alive, balanced connections with the upstream's retry policy.
 *
 * This replaces connect-node's session manager rather than implementing its
 * interface: a session manager is not told the call's signal (a cancelled
 * call would keep its place in the pool's queue) and cannot change how a
 * lost connection is reported (Node closes the streams of a dead connection
 * with CANCEL, which Connect reports as CANCELLED, not UNAVAILABLE).
 *
 * `deadline` is the caller's deadline (ms since epoch), if it has one; the
 * call's own timeout (in its request header) may make it sooner.
 */
export function createPooledHttpClient(upstream: Upstream, deadline: number | undefined): UniversalClientFn {
  const connect = upstream.config.protocol === "connect";
  return async (req) => {
    const url = new URL(req.url);
    const headers: http2.OutgoingHttpHeaders = { ":method": req.method, ":path": url.pathname + url.search };
    req.header.forEach((value, name) => {
      headers[name] = value;
    });
    const timeout = connect
      ? parseConnectTimeout(req.header.get("connect-timeout-ms"), Number.MAX_SAFE_INTEGER)
      : parseGrpcTimeout(req.header.get("grpc-timeout"), Number.MAX_SAFE_INTEGER);
    const own = timeout.timeoutMs !== undefined ? Date.now() + timeout.timeoutMs : undefined;
    const callDeadline = own === undefined ? deadline : deadline === undefined ? own : Math.min(own, deadline);
    const res = await callUpstream(upstream, { headers, ...(req.body ? { body: req.body } : {}) }, {
      ...(req.signal ? { signal: req.signal } : {}),
      ...(callDeadline !== undefined ? { deadline: callDeadline } : {}),
    });
    const trailer = new Headers();
    return {
      status: res.status,
      header: webHeaders(res.headers),
      body: copyTrailersAtEnd(res.body, res.trailers, trailer),
      trailer,
    };
  };
}

function webHeaders(h: http2.IncomingHttpHeaders | undefined, into = new Headers()): Headers {
  if (h === undefined) return into;
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) into.append(name, v);
    else into.set(name, String(value));
  }
  return into;
}

/** Connect reads the trailers after the body: fill them in as the body ends. */
async function* copyTrailersAtEnd(body: AsyncIterable<Buffer>, from: http2.IncomingHttpHeaders, to: Headers): AsyncGenerator<Uint8Array> {
  yield* body;
  webHeaders(from, to);
}
