import type { ContextValues } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { defaultDeadline } from "../limits/default-deadline.js";
import { applyDeadlinePolicy, defaultDeadlineMs, type DeadlinePolicy } from "../protocol/deadline-header.js";
import { detectProtocol } from "../protocol/detect-protocol.js";
import type { NodeRequest, NodeResponse } from "../protocol/write-rpc-error.js";
import { stopReadingOnceAnswered } from "./stop-reading.js";

/**
 * The request a Connect handler sees for one call, with the gateway's
 * policies applied: the route's deadline bounds, and a request body that is
 * finished off properly when the handler answers before reading all of it.
 * `release()` frees what the call held once it is over.
 */
export function createCallRequest(
  raw: NodeRequest,
  res: NodeResponse,
  deadline: DeadlinePolicy,
  values: ContextValues,
): { request: UniversalServerRequest; release(): void } {
  let request = universalRequestFromNodeRequest(raw, res, undefined, values);
  stopReadingOnceAnswered(raw, res);
  if (!("stream" in raw)) {
    // connect-node's body reader destroys an HTTP/1.1 request whose handler
    // stops reading early, which leaves the rest of the body stuck on the
    // keep-alive connection; this one leaves the request for
    // stopReadingOnceAnswered to drain.
    request = { ...request, body: raw.iterator({ destroyOnReturn: false }) };
  }
  if (applyDeadlinePolicy(request.header, detectProtocol(raw.headers["content-type"]), deadline) !== undefined) {
    return { request, release() {} };
  }
  // No client deadline (or a malformed one, which the handler rejects at
  // once): the default is enforced through the request's signal, not
  // announced in its headers (see deadline-header.ts).
  const gatewayDeadline = defaultDeadline(request.signal, defaultDeadlineMs(deadline));
  return { request: { ...request, signal: gatewayDeadline.signal }, release: gatewayDeadline.clear };
}
