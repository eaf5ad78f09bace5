import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError, type HandlerContext } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { rpcContextKey } from "../host/rpc-context.js";
import { checkResponse, type ResponseProblem } from "./check-response.js";

type Method = (input: never, ctx: HandlerContext) => unknown;

/**
 * Wraps one method of a function so that every response it returns or
 * yields is checked against the method's output schema before Connect
 * serializes it (see check-response.ts). A bad one ends the call with
 * INTERNAL SLUICE_RPC_BAD_RESPONSE, which tells the client only the request
 * id; the log line has the field path, the problem, the function file and a
 * stack.
 *
 * The wrapper keeps the method's shape: a plain function stays one that
 * returns a promise, a streaming method still returns an async iterable that
 * is pulled one message at a time (so backpressure and cancellation reach
 * the handler's generator unchanged).
 */
export function checkResponses(method: DescMethod, fn: Method, file: string): Method {
  const output = method.output;
  const where = { file, method: `${method.parent.typeName}.${method.name}` };
  if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
    return async (input: never, ctx: HandlerContext) => {
      const response = await fn(input, ctx);
      const problem = checkResponse(output, response);
      if (problem !== undefined) throw badResponse(problem, where, ctx, "returned");
      return response;
    };
  }
  return (input: never, ctx: HandlerContext) => checkStream(fn(input, ctx) as AsyncIterable<unknown>, method, where, ctx);
}

async function* checkStream(responses: AsyncIterable<unknown>, method: DescMethod, where: { file: string; method: string }, ctx: HandlerContext): AsyncGenerator<unknown> {
  let index = 0;
  for await (const response of responses) {
    const problem = checkResponse(method.output, response);
    // Leaving the loop by throwing calls return() on the handler's generator, so its finally blocks run.
    if (problem !== undefined) throw badResponse(problem, where, ctx, `yielded (message #${index + 1})`);
    index++;
    yield response;
  }
}

function badResponse(problem: ResponseProblem, where: { file: string; method: string }, ctx: HandlerContext, verb: string): ConnectError {
  const field = problem.path === "" ? "the message" : `field ${problem.path}`;
  const message = `${where.file}: ${where.method} ${verb} a bad response: ${field}: ${problem.problem}`;
  const rpc = ctx.values.get(rpcContextKey);
  // The stack shows where the response was checked; the file and method name the handler.
  rpc?.log.error({ code: "SLUICE_RPC_BAD_RESPONSE", file: where.file, method: where.method, field: problem.path, err: new Error(message) }, message);
  return rpcError("SLUICE_RPC_BAD_RESPONSE", Code.Internal, { requestId: rpc?.requestId ?? "(none)" });
}
