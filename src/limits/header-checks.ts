/**
 * Whether an HTTP/2 request's header block (`rawHeaders`: name, value,
 * name, value, …) is larger than `maxBytes`, counted as
 * SETTINGS_MAX_HEADER_LIST_SIZE counts it: name + value + 32 per field (RFC
 * 9113 §6.5.2). nghttp2 enforces the limit only once the client has
 * acknowledged the server's SETTINGS, and real clients send their first
 * request before that, so it is checked here for every stream.
 *
 * CR, LF and NUL in values need no check here: nghttp2 resets a stream
 * whose pseudo-header has one (PROTOCOL_ERROR) and drops a regular field
 * that has one before Node sees the request (test/limits/attacks.test.ts
 * holds it to that).
 */
export function headersTooLarge(rawHeaders: readonly string[], maxBytes: number): boolean {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i++) size += rawHeaders[i]!.length;
  return size + 16 * rawHeaders.length > maxBytes;
}
