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
