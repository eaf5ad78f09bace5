import type { FastifyInstance } from "fastify";
import type { HealthStatus } from "../observe/health-status.js";

/**
 * The plain HTTP endpoints of the gateway itself.
 *
 * - GET /healthz: liveness; 200 while the process can answer at all.
 * - GET /readyz: readiness; 200 once functions are loaded, 503 before that
 *   and from the moment shutdown begins, so load balancers stop sending.
 */
/** The paths above: requests for them never count as RPCs. */
export const httpEndpointPaths: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

export function registerHttpEndpoints(app: FastifyInstance, health: HealthStatus): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    if (health.ready) return { status: "ready" };
    return reply.code(503).send({ status: health.draining ? "draining" : "starting" });
  });
}
