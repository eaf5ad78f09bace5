/** What is wrong with a request's header block, if anything. */
export type HeaderProblem = "too-large" | "malformed" | undefined;

/** CR, LF and NUL: never allowed in a field value (RFC 9113 §8.2.1). */
const forbidden = /[\r\n\0]/;

/**
 * Checks an HTTP/2 request's header block as received (`rawHeaders`: name,
 * value, name, value, …): its size as SETTINGS_MAX_HEADER_LIST_SIZE counts
 * it (name + value + 32 per field, RFC 9113 §6.5.2), and CR, LF or NUL in a
 * value. nghttp2 enforces the size only once the client has acknowledged
 * the server's SETTINGS, and real clients send their first request before
 * that; it lets the forbidden characters through. So both are checked here,
 * for every stream.
 */
export function checkRequestHeaders(rawHeaders: readonly string[], maxBytes: number): HeaderProblem {
  let size = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const value = rawHeaders[i + 1]!;
    size += rawHeaders[i]!.length + value.length + 32;
    if (forbidden.test(value)) return "malformed";
  }
  return size > maxBytes ? "too-large" : undefined;
}
