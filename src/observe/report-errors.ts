import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { rpcContextKey } from "../host/rpc-context.js";

/**
 * Records how a call ended, and turns anything a handler throws that is not
 * a ConnectError into INTERNAL with a message that carries the request id
 * and nothing else: the error and its stack go to the log, never to the
 * client. A ConnectError passes through untouched (code, message, metadata,
 * details).
 */
export const reportErrors: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (!res.stream) return res;
    return { ...res, message: mapStreamErrors(res.message, req.contextValues) };
  } catch (e) {
    throw toClientError(e, req.contextValues);
  }
};

async function* mapStreamErrors<T>(it: AsyncIterable<T>, values: ContextValues): AsyncGenerator<T> {
  try {
    yield* it;
  } catch (e) {
    throw toClientError(e, values);
  }
}

function toClientError(e: unknown, values: ContextValues): ConnectError {
  const rpc = values.get(rpcContextKey);
  if (e instanceof ConnectError) {
    if (rpc) rpc.code = e.code;
    return e;
  }
  if (rpc) {
    rpc.code = Code.Internal;
    rpc.log.error({ err: e }, "handler threw an error that is not a ConnectError; the client gets INTERNAL");
    return rpcError("SLUICE_RPC_INTERNAL", Code.Internal, { requestId: rpc.requestId });
  }
  return new ConnectError("internal error", Code.Internal);
}
