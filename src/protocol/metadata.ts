import type { OutgoingHttpHeaders } from "node:http";

/**
 * Metadata as a handler sets it (WHATWG Headers: ctx.responseHeader,
 * ConnectError metadata) or as a proxy passes it on (a plain object of
 * lower-case names, which costs far less per call than Headers).
 */
export type Metadata = Headers | Readonly<Record<string, string | string[]>>;

/** Calls `fn` for each value, repeated fields once per value for plain objects. */
export function forEachMetadata(m: Metadata, fn: (value: string, key: string) => void): void {
  if (m instanceof Headers) {
    m.forEach(fn);
    return;
  }
  for (const key in m) {
    const v = m[key]!;
    if (typeof v === "string") fn(v, key);
    else for (const x of v) fn(x, key);
  }
}

/**
 * Response metadata copied onto Node's header object. Names the transport
 * owns are left out: HTTP/2 refuses connection-specific headers, and the
 * protocol's own headers are set by the gateway.
 */
export function copyMetadata(from: Metadata | undefined, to: OutgoingHttpHeaders, prefix = ""): void {
  if (from === undefined) return;
  const setCookie = from instanceof Headers ? from.getSetCookie() : undefined;
  forEachMetadata(from, (value, key) => {
    if (reserved.has(key)) return;
    const name = prefix === "" ? key : prefix + key;
    const existing = to[name];
    if (key === "set-cookie" && setCookie !== undefined) to[name] = setCookie;
    else if (existing === undefined) to[name] = value;
    else to[name] = [...(Array.isArray(existing) ? existing : [String(existing)]), value];
  });
}

/** True when the metadata has no entry. */
export function isEmptyMetadata(m: Metadata | undefined): boolean {
  if (m === undefined) return true;
  if (m instanceof Headers) return m.keys().next().done === true;
  for (const _ in m) return false;
  return true;
}

/** The value of `name` in `m` (repeated values joined with ", "), if any. */
export function metadataValue(m: Metadata, name: string): string | undefined {
  if (m instanceof Headers) return m.get(name) ?? undefined;
  return headerValue(m[name]);
}

const reserved = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host",
  "content-length", "content-type", "content-encoding",
]);

/** Node's header value as one string (repeated fields joined with ", "). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(", ") : v;
}
