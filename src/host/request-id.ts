import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const acceptable = /^[\w.:\-]{1,128}$/;

/**
 * Request ids: the caller's X-Request-Id when it is a sane token (so a trace
 * can be followed across hops), otherwise a per-process random prefix and a
 * counter, which is unique across instances and costs no randomness per call.
 */
export function createRequestIdGenerator(): (headers: IncomingHttpHeaders) => string {
  const prefix = randomBytes(4).toString("hex");
  let n = 0;
  return (headers) => {
    const given = headers["x-request-id"];
    if (typeof given === "string" && acceptable.test(given)) return given;
    n = (n + 1) % Number.MAX_SAFE_INTEGER;
    return `${prefix}-${n.toString(36)}`;
  };
}
