import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../proto/gen/grpc/health/v1/health_pb.js";
import type { RouteSource } from "../host/create-routes.js";
import type { HealthStatus } from "./health-status.js";

/**
 * grpc.health.v1.Health, served by the gateway itself. Check answers
 * NOT_FOUND for a service it does not serve; Watch answers SERVICE_UNKNOWN
 * and keeps watching, as the protocol asks, and ends once shutdown has
 * begun (after sending NOT_SERVING) so that it does not hold up the drain.
 */
export function healthRouteSource(health: HealthStatus): RouteSource {
  return {
    service: Health,
    methods: Health.methods,
    options: {},
    source: "(built-in)",
    // Health checks must answer while the gateway sheds load, or an overloaded
    // instance looks dead instead of busy.
    essential: true,
    implementation: {
      check(req: { service: string }) {
        const status = health.statusOf(req.service);
        if (status === undefined) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
        return { status };
      },
      async *watch(req: { service: string }, ctx: HandlerContext) {
        let changed: () => void = () => {};
        const wakeUp = () => changed();
        const unsubscribe = health.subscribe(wakeUp);
        ctx.signal.addEventListener("abort", wakeUp);
        try {
          let last: Status | undefined;
          for (;;) {
            const next = health.statusOf(req.service) ?? Status.SERVICE_UNKNOWN;
            const wake = new Promise<void>((resolve) => (changed = resolve));
            if (next !== last) {
              last = next;
              yield { status: next };
            }
            if (health.draining || ctx.signal.aborted) return;
            await wake;
          }
        } finally {
          unsubscribe();
          ctx.signal.removeEventListener("abort", wakeUp);
        }
      },
    },
  };
}
