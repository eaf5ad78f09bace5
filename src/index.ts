/**
 * Sluice's public API: what function files and sluice.config.ts import.
 *
 * ```ts
 * import { defineFunction, ConnectError, Code } from "sluice";
 * ```
 */
export {
  defineFunction,
  type FunctionDefinition,
  type FunctionOptions,
  type WholeServiceDefinition,
  type SplitServiceDefinition,
} from "./functions/define-function.js";
export { defineConfig, type SluiceConfigInput } from "./config/config.js";
export { rpcContextKey, type RpcContext } from "./rpc/rpc-context.js";
// Re-exported so that a function file needs one import for the common cases.
export { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";

import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";

declare module "@connectrpc/connect" {
  interface HandlerContext {
    /**
     * A typed client for `service` on the upstream configured as `name`
     * (config `upstreams`), on its pooled, kept-alive connections:
     *
     * ```ts
     * const notes = ctx.upstream(NotesService, "notes");
     * const note = await notes.get({ id });
     * ```
     *
     * Its calls carry this call's remaining deadline, are cancelled when
     * this call ends, and pass on x-request-id, traceparent and the
     * upstream's forwardHeaders; the upstream's errors arrive as
     * ConnectErrors. Sluice gives this to every function's `ctx`.
     */
    upstream<S extends DescService>(service: S, name: string): Client<S>;
  }
}
