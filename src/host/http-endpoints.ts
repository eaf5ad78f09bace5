import fastifyCompress from "@fastify/compress";
import type { FastifyInstance } from "fastify";
import type { HealthStatus } from "../observe/health-status.js";

/**
 * The plain HTTP endpoints, in their own Fastify scope so that
 * @fastify/compress never sees an RPC (RPC bodies use the protocols'
 * per-message compression instead).
 *
 * - GET /healthz: liveness; 200 while the process can answer at all.
 * - GET /readyz: readiness; 200 once functions are loaded, 503 before that
 *   and from the moment shutdown begins, so load balancers stop sending.
 */
export function registerHttpEndpoints(app: FastifyInstance, health: HealthStatus): void {
  app.register(async (scope) => {
    await scope.register(fastifyCompress, { global: true, threshold: 1024 });
    scope.get("/healthz", async () => ({ status: "ok" }));
    scope.get("/readyz", async (_req, reply) => {
      if (health.ready) return { status: "ready" };
      return reply.code(503).send({ status: health.draining ? "draining" : "starting" });
    });
  });
}
