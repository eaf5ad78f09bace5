import type { FastifyInstance } from "fastify";
import type { describeArtifact } from "../artifact/artifact-manifest.js";
import type { HealthStatus } from "../observe/health-status.js";
import type { UpstreamRegistry } from "../upstream/upstream-registry.js";

/** The paths registerHttpEndpoints serves: requests for them never count as RPCs. */
export const httpEndpointPaths: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/**
 * The plain HTTP endpoints of the gateway itself.
 *
 * - GET /healthz: liveness; 200 while the process can answer at all. From a
 *   built artifact it also names the build: content hash, Sluice version and
 *   the Node version it was built for, so a rollout can be checked per pod.
 * - GET /readyz: readiness; 200 once functions are loaded, 503 before that
 *   and from the moment shutdown begins, so load balancers stop sending.
 *   The body details each upstream: an upstream that is down makes its
 *   routes fail fast with UNAVAILABLE, but does not make the gateway
 *   unready (its other routes still serve).
 */
export function registerHttpEndpoints(app: FastifyInstance, health: HealthStatus, upstreams: UpstreamRegistry, artifact?: ReturnType<typeof describeArtifact>): void {
  const alive = artifact ? { status: "ok", artifact } : { status: "ok" };
  app.get("/healthz", async () => alive);
  app.get("/readyz", async (_req, reply) => {
    const detail = upstreamDetail(upstreams);
    if (health.ready) return { status: "ready", ...detail };
    return reply.code(503).send({ status: health.draining ? "draining" : "starting", ...detail });
  });
}

function upstreamDetail(upstreams: UpstreamRegistry): { upstreams?: Record<string, unknown> } {
  const names = upstreams.names();
  if (names.length === 0) return {};
  const state = upstreams.state();
  return {
    upstreams: Object.fromEntries(names.map((n) => {
      const s = state[n]!;
      return [n, {
        available: s.available,
        protocol: s.protocol,
        connections: s.connections,
        activeStreams: s.activeStreams,
        endpoints: s.endpoints.map((e) => ({ address: e.address, health: e.health, connections: e.connections.length })),
      }];
    })),
  };
}
