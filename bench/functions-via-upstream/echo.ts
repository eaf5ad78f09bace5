// The echo service as a function that calls the same service on an upstream
// with ctx.upstream: the harness's "function → upstream" arm
// (bench/src/scenarios/proxy.ts) measures what a function pays for a pooled
// upstream call, beside the proxy route that needs no code.
import { defineFunction } from "sluice";
import { EchoService } from "../gen/bench/v1/echo_pb.js";

export default defineFunction({
  service: EchoService,
  implementation: {
    echo(req, ctx) {
      return ctx.upstream(EchoService, "echo").echo(req);
    },
    async *echoStream(req, ctx) {
      yield* ctx.upstream(EchoService, "echo").echoStream(req);
    },
    async *echoBidi(requests, ctx) {
      yield* ctx.upstream(EchoService, "echo").echoBidi(requests);
    },
  },
});
