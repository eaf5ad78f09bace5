// The benchmark's echo service as an ordinary Sluice function file: the
// benchmark serves it with the production start command
// (`node dist/src/cli.js start --functions bench/functions`), and the gateway
// bundles and serves it over gRPC, gRPC-Web and Connect like any user's file.
import { defineFunction } from "sluice";
import { EchoService, type EchoRequest } from "../gen/bench/v1/echo_pb.js";

/** Must match statsRequestId in bench/src/echo-messages.ts. */
const statsRequestId = "bench.stats";

/**
 * Messages the stream handler has produced in this process. A consumer that
 * stops reading should stop this count from growing: the gateway only asks
 * the generator for the next message once the socket has taken the last one.
 */
let produced = 0;

function echoOf(req: EchoRequest) {
  return { id: req.id, text: req.text, timestampMs: req.timestampMs, score: req.score, tags: req.tags, payload: req.payload };
}

export default defineFunction({
  service: EchoService,
  implementation: {
    echo(req) {
      return echoOf(req);
    },
    async *echoStream(req) {
      if (req.count === 0 && req.message?.id === statsRequestId) {
        yield { id: statsRequestId, text: String(produced) };
        return;
      }
      const reply = req.message ? echoOf(req.message) : {};
      for (let i = 0; i < req.count; i++) {
        produced++;
        yield reply;
      }
    },
    async *echoBidi(requests) {
      for await (const req of requests) yield echoOf(req);
    },
  },
});
