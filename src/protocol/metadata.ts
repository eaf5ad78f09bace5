import type { OutgoingHttpHeaders } from "node:http";

/**
 * Response metadata a handler set (ctx.responseHeader, ctx.responseTrailer,
 * ConnectError metadata) copied onto Node's header object. Names the
 * transport owns are left out: HTTP/2 refuses connection-specific headers,
 * and the protocol's own headers are set by the gateway.
 */
export function copyMetadata(from: Headers | undefined, to: OutgoingHttpHeaders, prefix = ""): void {
  if (from === undefined) return;
  from.forEach((value, key) => {
    if (reserved.has(key)) return;
    const name = prefix === "" ? key : prefix + key;
    const existing = to[name];
    if (existing === undefined) to[name] = key === "set-cookie" ? from.getSetCookie() : value;
    else to[name] = [...(Array.isArray(existing) ? existing : [String(existing)]), value];
  });
}

const reserved = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host",
  "content-length", "content-type", "content-encoding",
]);

/** Node's header value as one string (repeated fields joined with ", "). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(", ") : v;
}
