import type { ServiceImpl } from "@connectrpc/connect";
import { EchoService, type EchoRequest } from "../../gen/bench/v1/echo_pb.js";

function echoOf(req: EchoRequest) {
  return { id: req.id, text: req.text, timestampMs: req.timestampMs, score: req.score, tags: req.tags, payload: req.payload };
}

/**
 * EchoService for the stock Connect arms (connect-node, connect-fastify):
 * the same handlers as the Sluice function file, minus its stats request.
 */
export const connectEcho: ServiceImpl<typeof EchoService> = {
  echo(req) {
    return echoOf(req);
  },
  async *echoStream(req) {
    const reply = req.message ? echoOf(req.message) : {};
    for (let i = 0; i < req.count; i++) yield reply;
  },
  async *echoBidi(requests) {
    for await (const req of requests) yield echoOf(req);
  },
};

export { EchoService };
