import type { FastifyInstance } from "fastify";

/**
 * GET requests for paths that are not RPCs: a file from `staticDir` (config
 * staticDir; index.html for a folder), or a plain 404 when there is none.
 * @fastify/static is loaded only when there is a staticDir (it is a tenth of
 * a built artifact's start-up).
 */
export function registerStaticFiles(app: FastifyInstance, staticDir: string | undefined): void {
  void app.register(async (scope) => {
    if (staticDir) await scope.register(import("@fastify/static"), { root: staticDir, serve: false });
    scope.get("/*", (req, reply) => {
      const url = req.raw.url ?? "/";
      const q = url.indexOf("?");
      const path = q === -1 ? url : url.slice(0, q);
      if (staticDir) return reply.sendFile(path.endsWith("/") ? `${path}index.html` : path);
      return reply.code(404).type("text/plain").send("404 not found\n");
    });
  });
}
