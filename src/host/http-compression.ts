import type { FastifyInstance } from "fastify";

/**
 * HTTP compression (Content-Encoding) for the plain HTTP responses: static
 * files, /healthz, /readyz, 404s. It can never wrap an RPC:
 *
 * - RPC responses are written to the raw Node response after
 *   `reply.hijack()`, so @fastify/compress's onSend hook never sees them;
 *   the RPC protocols negotiate their own per-message compression instead.
 * - Request decompression is off: it would start reading the raw request
 *   body in a preParsing hook, stealing the bytes Connect reads itself
 *   (Connect unary requests legitimately carry Content-Encoding).
 *
 * The gateway registers it only with a staticDir: the other plain responses
 * are too small to compress, and loading the plugin is a tenth of a built
 * artifact's start-up.
 */
export function registerHttpCompression(app: FastifyInstance): Promise<void> {
  return app.register(import("@fastify/compress"), { global: true, globalDecompression: false, threshold: 1024 }) as unknown as Promise<void>;
}
