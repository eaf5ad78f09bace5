import { createContextKey, type Code } from "@connectrpc/connect";
import type { FastifyBaseLogger } from "fastify";

/** What the gateway knows of one call, shared with its interceptors. */
export interface RpcContext {
  requestId: string;
  log: FastifyBaseLogger;
  /** Set when the call ends with an error the handler raised or was given. */
  code?: Code;
}

/**
 * Context key under which each call's RpcContext travels to interceptors and
 * handlers (`ctx.values.get(rpcContextKey)`).
 */
export const rpcContextKey = createContextKey<RpcContext | undefined>(undefined, { description: "sluice rpc context" });
