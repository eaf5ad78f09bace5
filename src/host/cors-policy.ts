import { cors as connectCors } from "@connectrpc/connect";
import fastifyCors from "@fastify/cors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SluiceConfig } from "../config/config.js";

/**
 * Cross-origin access for browsers. Off until `cors.origins` names at least
 * one origin. The allowed and exposed headers start from what the three
 * protocols need (connect's `cors` constants: Grpc-Status, Grpc-Message,
 * Grpc-Status-Details-Bin, Connect-* …), so gRPC-Web clients can read their
 * status; each RPC response also exposes its own header names, so metadata a
 * handler sets is readable without configuring it here.
 */
export class CorsPolicy {
  readonly enabled: boolean;
  readonly #exposed: string[];

  constructor(private readonly config: SluiceConfig["cors"]) {
    this.enabled = config.origins.length > 0;
    this.#exposed = unique([...connectCors.exposedHeaders, "X-Request-Id", ...config.exposedHeaders]);
  }

  register(app: FastifyInstance): void {
    if (!this.enabled) return;
    const { origins, credentials, maxAgeSeconds, allowedHeaders } = this.config;
    void app.register(fastifyCors, {
      origin: origins.includes("*") ? "*" : origins,
      methods: [...connectCors.allowedMethods],
      allowedHeaders: unique([...connectCors.allowedHeaders, "X-Request-Id", ...allowedHeaders]),
      exposedHeaders: this.#exposed,
      credentials,
      maxAge: maxAgeSeconds,
      strictPreflight: false,
    });
  }

  /** Adds the response's own header names to Access-Control-Expose-Headers. */
  exposeResponseHeaders(req: FastifyRequest, header: Headers): void {
    if (!this.enabled || req.headers.origin === undefined) return;
    const names = [...this.#exposed];
    header.forEach((_, name) => {
      if (!name.startsWith("access-control-")) names.push(name);
    });
    header.set("access-control-expose-headers", unique(names).join(", "));
  }
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const k = n.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
