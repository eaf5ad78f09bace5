import type { OutgoingHttpHeaders } from "node:http";
import { cors as connectCors } from "@connectrpc/connect";
import fastifyCors from "@fastify/cors";
import type { FastifyInstance } from "fastify";
import type { SluiceConfig } from "../config/config.js";

/**
 * Cross-origin access for browsers. Off until `cors.origins` names at least
 * one origin. The allowed and exposed headers start from what the three
 * protocols need (connect's `cors` constants: Grpc-Status, Grpc-Message,
 * Grpc-Status-Details-Bin, Connect-* …), so gRPC-Web clients can read their
 * status; each RPC response also exposes its own header names, so metadata a
 * handler sets is readable without configuring it here.
 *
 * Preflights (OPTIONS) and plain HTTP responses go through @fastify/cors;
 * RPC responses, which do not pass through Fastify, get the same headers
 * from applyToResponse().
 */
export class CorsPolicy {
  readonly enabled: boolean;
  readonly #exposed: string[];
  readonly #exposedLower: Set<string>;
  readonly #anyOrigin: boolean;
  readonly #origins: Set<string>;

  constructor(private readonly config: SluiceConfig["cors"]) {
    this.enabled = config.origins.length > 0;
    this.#exposed = unique([...connectCors.exposedHeaders, "X-Request-Id", ...config.exposedHeaders]);
    this.#exposedLower = new Set(this.#exposed.map((h) => h.toLowerCase()));
    this.#anyOrigin = config.origins.includes("*");
    this.#origins = new Set(config.origins);
  }

  register(app: FastifyInstance): void {
    if (!this.enabled) return;
    const { origins, credentials, maxAgeSeconds, allowedHeaders } = this.config;
    void app.register(fastifyCors, {
      origin: this.#anyOrigin ? "*" : origins,
      methods: [...connectCors.allowedMethods],
      allowedHeaders: unique([...connectCors.allowedHeaders, "X-Request-Id", ...allowedHeaders]),
      exposedHeaders: this.#exposed,
      credentials,
      maxAge: maxAgeSeconds,
      strictPreflight: false,
    });
  }

  /** True when cors.origins lets pages from `origin` call (listed, or "*"). */
  allowsOrigin(origin: string): boolean {
    return this.#anyOrigin || this.#origins.has(origin);
  }

  /**
   * Adds the CORS headers of an actual (non-preflight) RPC response to
   * `out`, exposing every header the response carries.
   */
  applyToResponse(origin: string | undefined, out: OutgoingHttpHeaders): void {
    if (!this.enabled || origin === undefined) return;
    if (this.#anyOrigin) {
      out["access-control-allow-origin"] = "*";
    } else {
      out.vary = "Origin";
      if (!this.#origins.has(origin)) return;
      out["access-control-allow-origin"] = origin;
    }
    if (this.config.credentials) out["access-control-allow-credentials"] = "true";
    let exposed = this.#exposed.join(", ");
    for (const name in out) {
      if (!this.#exposedLower.has(name) && !name.startsWith("access-control-") && name !== "vary") exposed += `, ${name}`;
    }
    out["access-control-expose-headers"] = exposed;
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
