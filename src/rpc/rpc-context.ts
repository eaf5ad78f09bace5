import { createContextKey, type Code } from "@connectrpc/connect";
import type { FastifyBaseLogger } from "fastify";

/** What the gateway knows of one call, shared with its interceptors. */
export interface RpcContext {
  requestId: string;
  /** A logger that tags every line with the request id. */
  log: FastifyBaseLogger;
  /**
   * Fires when the server begins to shut down. Calls may still finish (until
   * drainTimeoutMs, when ctx.signal fires); a long-lived stream can use this
   * to end early so its client reconnects to another instance.
   */
  draining: AbortSignal;
  /** Set when the call ends with an error the handler raised or was given. */
  code?: Code;
}

/**
 * Context key under which each call's RpcContext travels to interceptors and
 * handlers (`ctx.values.get(rpcContextKey)`).
 */
export const rpcContextKey = createContextKey<RpcContext | undefined>(undefined, { description: "sluice rpc context" });
